// Two evaluators, one truth: on a randomly generated organisation, for every
// (user, record, operation), the engine's point decision (CheckRecord), the
// engine's SQL filter (membership in SELECT id ... WHERE RecordFilter) on a
// real database, and a small reference model written plainly below (sharing
// no code with policy/) must agree. Plus a canary user granted nothing, who
// must see nothing. And with a user filter, as List runs it (RecordFilter
// given the filter as its hint, ANDed with it): the filtered reference.
// Consent too (policy.proto "Consent and purposes"): a third of the users
// hold a permission set marked with the purpose "marketing", contacts get
// random consent entries (channel x purpose x state), and the service
// "marketing-app" (marked "marketing") and "app" also act as themselves;
// a marked principal must see exactly the contacts opted in to marketing
// on some channel, among those it otherwise reaches.
//
// CI: a fixed seed and about 15,000 (user, record) pairs per operation and
// backend. Longer runs: CRM_POLICY_SEED=<n> CRM_POLICY_SIZE=<factor>, e.g.
//   CRM_POLICY_SEED=7 CRM_POLICY_SIZE=4 build/tests/integration_test
//     --gtest_filter='*PolicyDifferential*'
#include <cstdlib>
#include <map>
#include <random>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/snapshot.h"
#include "query/checked_filter.h"
#include "records/list_plan.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"
#include "tests/support/policy_org_generator.h"
#include "tests/support/test_database.h"

namespace crm {
namespace {

using crm::v1::Grantee;
using crm::v1::OrgWideDefault;
using policy::Operation;
using testing::Backend;
using testing::GeneratedOrg;

// One consent entry of a generated contact.
struct GeneratedConsent {
  std::string channel;
  std::string purpose;
  std::string state;  // "opted-in", "opted-out", "unknown"
};

constexpr char kPurpose[] = "marketing";

// Adds consent to a generated organisation, from its own random stream (the
// organisation's draws are unchanged): a permission set with no grant
// marked with kPurpose, assigned to about a third of the users (never the
// canary); the service "marketing-app", a copy of "app" marked with
// kPurpose; and 0-3 random consent entries per contact. Returns contact id
// -> its entries.
std::map<std::string, std::vector<GeneratedConsent>> AddConsent(
    GeneratedOrg* org) {
  std::mt19937_64 rng(org->seed ^ 0xc0175e47ull);
  auto* set = org->state.add_permission_sets();
  set->set_name("permissionSets/marketing-purpose");
  set->set_purpose(kPurpose);
  for (const auto& u : org->state.users()) {
    if (u.id() != org->canary_user && rng() % 3 == 0) {
      set->add_assignees("users/" + u.id());
    }
  }
  crm::internal::ServiceConfig marketing = org->services.Get(0);
  marketing.set_name("marketing-app");
  marketing.clear_identities();
  marketing.add_identities("spiffe://crm.test/svc/marketing-app");
  marketing.set_purpose(kPurpose);
  *org->services.Add() = marketing;
  const char* channels[] = {"email", "phone", "sms", "post"};
  const char* purposes[] = {kPurpose, "service"};
  const char* states[] = {"opted-in", "opted-out", "unknown"};
  std::map<std::string, std::vector<GeneratedConsent>> out;
  for (const auto& c : org->contacts) {
    std::set<std::pair<std::string, std::string>> seen;
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      GeneratedConsent g{channels[rng() % 4], purposes[rng() % 2],
                         states[rng() % 3]};
      if (!seen.insert({g.channel, g.purpose}).second) continue;
      out[c.id].push_back(std::move(g));
    }
  }
  return out;
}

absl::Status LoadConsent(
    store::Database& db,
    const std::map<std::string, std::vector<GeneratedConsent>>& consents) {
  return db.InTransaction([&](store::Session& s) -> absl::Status {
    for (const auto& [id, entries] : consents) {
      for (const GeneratedConsent& c : entries) {
        auto st = store::Execute(
            s,
            {"INSERT INTO consents (collection, record_id, channel, purpose, "
             "state, source, service, actor, request_id, updated_at, version) "
             "VALUES ('contacts', ?, ?, ?, ?, 'test', 'services/app', "
             "'services/app', '', 0, 1)",
             {id, c.channel, c.purpose, c.state}},
            "inserting consent");
        if (!st.ok()) return st.status();
      }
    }
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------
// The reference model: the rules of proto/crm/v1/policy.proto, written as
// directly as possible, with no precomputation.
class Reference {
 public:
  // `consents`: contact id -> its consent entries.
  Reference(const GeneratedOrg& org,
            std::map<std::string, std::vector<GeneratedConsent>> consents)
      : org_(org), consents_(std::move(consents)) {
    for (const auto& u : org.state.users()) users_[u.id()] = &u;
    for (const auto& r : org.state.roles()) role_parent_[r.name()] = r.parent();
    for (const auto& g : org.state.groups()) groups_[g.name()] = &g;
    for (const auto& a : org.accounts) accounts_["accounts/" + a.id] = &a;
    for (const auto& s : org.shares) shares_[s.object + "/" + s.record_id].push_back(&s);
  }

  // Needed level: 1 read, 2 read-write, 3 full.
  static int Needed(Operation op) {
    return op == Operation::kRead ? 1 : op == Operation::kEdit ? 2 : 3;
  }

  bool Allowed(const std::string& user, const std::string& object,
               Operation op, const model::Record& record) const {
    auto u = users_.find(user);
    if (u == users_.end() || !u->second->active()) return false;
    crm::v1::ObjectPermission p = Permission(*u->second, object);
    bool object_ok = op == Operation::kRead   ? p.read()
                     : op == Operation::kEdit ? p.edit()
                                              : p.delete_();
    if (!object_ok) return false;
    if (!AccessOk(*u->second, object, Needed(op), record)) return false;
    // Consent: a user holding a set marked with a purpose sees only the
    // contacts opted in to it on some channel.
    for (const auto& set : org_.state.permission_sets()) {
      if (set.purpose().empty() || object != "contacts") continue;
      for (const auto& a : set.assignees()) {
        if ((a == "users/" + user ||
             (!u->second->profile().empty() && a == u->second->profile())) &&
            !OptedIn(record.id, set.purpose())) {
          return false;
        }
      }
    }
    return true;
  }

  // A service acting as itself, with every object permission ("app" and
  // "marketing-app" of the test): every record, unless marked with a
  // purpose the contact did not opt in to.
  bool AllowedAsService(const std::string& purpose, const std::string& object,
                        const model::Record& record) const {
    return purpose.empty() || object != "contacts" || OptedIn(record.id, purpose);
  }

  bool OptedIn(const std::string& contact, const std::string& purpose) const {
    auto it = consents_.find(contact);
    if (it == consents_.end()) return false;
    for (const GeneratedConsent& c : it->second) {
      if (c.purpose == purpose && c.state == "opted-in") return true;
    }
    return false;
  }

 private:
  crm::v1::ObjectPermission Permission(const crm::internal::PolicyUser& u,
                                       const std::string& object) const {
    crm::v1::ObjectPermission p;
    for (const auto& set : org_.state.permission_sets()) {
      bool assigned = false;
      for (const auto& a : set.assignees()) {
        if (a == "users/" + u.id() || (!u.profile().empty() && a == u.profile())) {
          assigned = true;
        }
      }
      if (!assigned) continue;
      for (const auto& op : set.object_permissions()) {
        if (op.object() != object) continue;
        p.set_read(p.read() || op.read() || op.edit() || op.delete_() ||
                   op.view_all() || op.modify_all());
        p.set_edit(p.edit() || op.edit() || op.modify_all());
        p.set_delete_(p.delete_() || op.delete_() || op.modify_all());
        p.set_view_all(p.view_all() || op.view_all() || op.modify_all());
        p.set_modify_all(p.modify_all() || op.modify_all());
      }
    }
    return p;
  }

  bool HasSystem(const crm::internal::PolicyUser& u,
                 crm::v1::SystemPermission sp) const {
    for (int s : u.profile_system_permissions()) {
      if (s == sp) return true;
    }
    return false;
  }

  bool RoleAtOrBelow(std::string role, const std::string& top) const {
    while (!role.empty()) {
      if (role == top) return true;
      role = role_parent_.at(role);
    }
    return false;
  }

  bool InGrantee(const Grantee& g, const crm::internal::PolicyUser& u,
                 int depth = 0) const {
    if (depth > 100) return false;
    switch (g.kind_case()) {
      case Grantee::kUser:
        return g.user() == "users/" + u.id();
      case Grantee::kRole:
        return u.role() == g.role();
      case Grantee::kRoleAndSubordinates:
        return RoleAtOrBelow(u.role(), g.role_and_subordinates());
      case Grantee::kGroup:
        for (const Grantee& m : groups_.at(g.group())->members()) {
          if (InGrantee(m, u, depth + 1)) return true;
        }
        return false;
      case Grantee::KIND_NOT_SET:
        return false;
    }
    return false;
  }

  bool InGranteeKey(const std::string& key,
                    const crm::internal::PolicyUser& u) const {
    Grantee g;
    if (key.rfind("users/", 0) == 0) g.set_user(key);
    if (key.rfind("roles/", 0) == 0) g.set_role(key);
    if (key.rfind("groups/", 0) == 0) g.set_group(key);
    if (key.rfind("roleAndSubordinates/", 0) == 0) {
      g.set_role_and_subordinates("roles/" + key.substr(20));
    }
    return InGrantee(g, u);
  }

  static std::string Str(const model::Record& r, const std::string& object,
                         const std::string& field) {
    const auto* schema = model::SchemaRegistry::Default().Find(object);
    const auto& v = r.values[schema->FieldIndex(field)];
    return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : "";
  }

  bool Matches(const std::string& rule, const std::string& object,
               const model::Record& r) const {
    const auto* schema = model::SchemaRegistry::Default().Find(object);
    for (const auto& c : org_.criteria.at(rule)) {
      const auto& v = r.values[schema->FieldIndex(c.field)];
      bool ok;
      if (c.field == "employee_count") {
        int64_t n = std::get<int64_t>(v);
        ok = c.op == ">" ? n > c.number : n <= c.number;
      } else {
        bool eq = std::get<std::string>(v) == c.text;
        ok = c.op == "=" ? eq : !eq;
      }
      if (!ok) return false;
    }
    return true;
  }

  const OrgWideDefault* Default(const std::string& object) const {
    for (const auto& d : org_.state.defaults()) {
      if (d.object() == object) return &d;
    }
    return nullptr;
  }

  int OwnLevel(const crm::internal::PolicyUser& u, const std::string& object,
               const model::Record& r, bool by_parent) const {
    int level = 0;
    const std::string owner = Str(r, object, "owner");
    const OrgWideDefault* d = Default(object);
    if (owner == "users/" + u.id()) return 3;
    const crm::internal::PolicyUser* owner_user = nullptr;
    if (owner.rfind("users/", 0) == 0) {
      auto it = users_.find(owner.substr(6));
      if (it != users_.end()) owner_user = it->second;
    }
    bool hierarchy = by_parent || (d && d->grant_access_using_hierarchies());
    if (hierarchy && owner_user && !u.role().empty() &&
        owner_user->role() != u.role() &&
        RoleAtOrBelow(owner_user->role(), u.role())) {
      return 3;
    }
    if (!by_parent && d) {
      if (d->internal_access() == OrgWideDefault::PUBLIC_READ) level = 1;
      if (d->internal_access() == OrgWideDefault::PUBLIC_READ_WRITE) level = 2;
    }
    if (!by_parent) {
      for (const auto& rule : org_.state.sharing_rules()) {
        if (rule.object() != object || !InGrantee(rule.shared_with(), u)) continue;
        bool applies = rule.has_owned_by()
                           ? owner_user && InGrantee(rule.owned_by(), *owner_user)
                           : Matches(rule.name(), object, r);
        if (applies) level = std::max(level, rule.access() == crm::v1::READ ? 1 : 2);
      }
    }
    auto shares = shares_.find(object + "/" + r.id);
    if (shares != shares_.end()) {
      for (const auto* s : shares->second) {
        if (InGranteeKey(s->grantee, u)) level = std::max<int>(level, s->access);
      }
    }
    return level;
  }

  bool AccessOk(const crm::internal::PolicyUser& u, const std::string& object,
                int needed, const model::Record& r) const {
    crm::v1::ObjectPermission p = Permission(u, object);
    if (p.modify_all() || HasSystem(u, crm::v1::MODIFY_ALL_DATA)) return true;
    if (needed == 1 && (p.view_all() || HasSystem(u, crm::v1::VIEW_ALL_DATA))) {
      return true;
    }
    const OrgWideDefault* d = Default(object);
    bool by_parent =
        d && d->internal_access() == OrgWideDefault::CONTROLLED_BY_PARENT;
    bool ok;
    if (by_parent && !Str(r, object, "account").empty()) {
      auto account = accounts_.find(Str(r, object, "account"));
      ok = account != accounts_.end() &&
           AccessOk(u, "accounts", needed, *account->second);
    } else {
      ok = OwnLevel(u, object, r, by_parent) >= needed;
    }
    if (!ok) return false;
    for (const auto& rule : org_.state.restriction_rules()) {
      if (rule.object() == object && InGrantee(rule.applies_to(), u) &&
          !Matches(rule.name(), object, r)) {
        return false;
      }
    }
    return true;
  }

  const GeneratedOrg& org_;
  std::map<std::string, const crm::internal::PolicyUser*> users_;
  std::map<std::string, std::string> role_parent_;
  std::map<std::string, const crm::v1::Group*> groups_;
  std::map<std::string, const model::Record*> accounts_;
  std::map<std::string, std::vector<const testing::GeneratedShare*>> shares_;
  std::map<std::string, std::vector<GeneratedConsent>> consents_;
};

// ---------------------------------------------------------------------------

constexpr uint64_t kCiSeed = 20240611;

uint64_t EnvSeed() {
  const char* s = std::getenv("CRM_POLICY_SEED");
  uint64_t seed = kCiSeed;
  if (s != nullptr && !absl::SimpleAtoi(s, &seed)) seed = kCiSeed;
  return seed;
}

double EnvSize() {
  const char* s = std::getenv("CRM_POLICY_SIZE");
  double size = 1;
  if (s != nullptr && !absl::SimpleAtod(s, &size)) size = 1;
  return size;
}

absl::Status EnsureShareTable(store::Database& db) {
  return db.WithSession([](store::Session& s) -> absl::Status {
    auto exists = store::QueryInt(
        s, {"SELECT COUNT(*) FROM schema_migrations WHERE version >= 3", {}},
        "checking migrations");
    if (!exists.ok()) return exists.status();
    if (*exists > 0) return absl::OkStatus();  // migration 3 made it
    const char* text =
        store::DialectOf(s) == store::Dialect::kPostgres ? "TEXT COLLATE \"C\""
                                                         : "TEXT";
    return store::Execute(
               s,
               {absl::StrCat("CREATE TABLE record_shares (id ", text,
                             " PRIMARY KEY, object ", text,
                             " NOT NULL, record_id ", text,
                             " NOT NULL, grantee ", text,
                             " NOT NULL, access BIGINT NOT NULL, created_by ",
                             text, " NOT NULL DEFAULT '', create_time BIGINT "
                             "NOT NULL DEFAULT 0)"),
                {}},
               "creating record_shares")
        .status();
  });
}

absl::Status Load(store::Database& db, const GeneratedOrg& org) {
  store::RecordStore records(&db);
  const auto& registry = model::SchemaRegistry::Default();
  return db.InTransaction([&](store::Session& s) -> absl::Status {
    for (const auto& r : org.accounts) {
      if (auto st = records.Insert(s, *registry.Find("accounts"), r); !st.ok()) {
        return st;
      }
    }
    for (const auto& r : org.contacts) {
      if (auto st = records.Insert(s, *registry.Find("contacts"), r); !st.ok()) {
        return st;
      }
    }
    // The users table holds the user -> role assignment that record filters
    // join on for big owner sets (SqlShape::role_join_min_owners).
    auto profile = store::Execute(
        s, {"INSERT INTO profiles (id, name, version) VALUES ('pd', 'pd', 1)", {}},
        "inserting a profile");
    if (!profile.ok()) return profile.status();
    for (const auto& u : org.state.users()) {
      std::string role(absl::StripPrefix(u.role(), "roles/"));
      auto st = store::Execute(
          s,
          {"INSERT INTO users (id, username, profile_id, role_id, version) "
           "VALUES (?, ?, 'pd', ?, 1)",
           {u.id(), u.id(), role}},
          "inserting a user");
      if (!st.ok()) return st.status();
    }
    for (const auto& sh : org.shares) {
      auto st = store::Execute(
          s,
          {"INSERT INTO record_shares (id, object, record_id, grantee, access, "
           "created_by, create_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
           {sh.id, sh.object, sh.record_id, sh.grantee, sh.access,
            std::string("users/u0"), int64_t{0}}},
          "inserting a share");
      if (!st.ok()) return st.status();
    }
    return absl::OkStatus();
  });
}

// A user filter List ANDs with the record filter, passed to RecordFilter as
// its hint: `field = "value"` (alone or in a conjunction), taken from the
// generated criteria, so that for some users it contradicts one of their
// criteria rules or restrictions (which RecordFilter then leaves out) and
// for others it agrees. Evaluated plainly here: the value equals `value`.
struct HintFilter {
  std::string text;
  std::string field;
  std::string value;
};

std::map<std::string, std::vector<HintFilter>> HintFilters(
    const GeneratedOrg& org) {
  std::set<std::pair<std::string, std::string>> seen;
  std::map<std::string, std::vector<HintFilter>> out;
  for (const auto& [rule, criterion] : org.criteria) {
    for (const auto& c : criterion) {
      if (c.op != "=" || c.field == "employee_count") continue;
      if (!seen.insert({c.field, c.text}).second) continue;
      const bool contact = c.field == "title" || c.field == "mailing_country";
      std::string eq = absl::StrCat(c.field, " = \"", c.text, "\"");
      auto& list = out[contact ? "contacts" : "accounts"];
      list.push_back({eq, c.field, c.text});
      list.push_back({absl::StrCat(c.field, " != \"Nowhere\" AND (", eq, ")"),
                      c.field, c.text});
    }
  }
  return out;
}

// store::BackendTest opens a fresh database of the test's backend.
class PolicyDifferentialTest : public store::BackendTest {
 protected:
  // The generated organisation's snapshot, and its records, users and
  // shares written to the database.
  void Build(const GeneratedOrg& org,
             const std::map<std::string, std::vector<GeneratedConsent>>&
                 consents) {
    auto snapshot = policy::PolicySnapshot::Build(
        org.state, org.services, model::SchemaRegistry::Default());
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    snapshot_ = *std::move(snapshot);
    MigrateOrFail();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(EnsureShareTable(*db_).ok());
    absl::Status loaded = Load(*db_, org);
    ASSERT_TRUE(loaded.ok()) << loaded;
    absl::Status consent = LoadConsent(*db_, consents);
    ASSERT_TRUE(consent.ok()) << consent;
  }

  std::shared_ptr<const policy::PolicySnapshot> snapshot_;
};

TEST_P(PolicyDifferentialTest, PointDecisionSqlFilterAndReferenceAgree) {
  const uint64_t seed = EnvSeed();
  GeneratedOrg org = testing::GenerateOrg(seed, testing::ScaledOrgSize(EnvSize()));
  const auto consents = AddConsent(&org);
  const auto& registry = model::SchemaRegistry::Default();
  Build(org, consents);
  if (HasFatalFailure()) return;
  const auto& snapshot = snapshot_;
  store::Database* db = db_.get();

  Reference reference(org, consents);
  std::map<std::string, std::vector<policy::ConsentFact>> consent_facts;
  for (const auto& [id, entries] : consents) {
    for (const GeneratedConsent& c : entries) {
      consent_facts[id].push_back({c.channel, c.purpose, c.state == "opted-in",
                                   c.state == "opted-out"});
    }
  }
  std::map<std::string, std::vector<policy::ShareFact>> shares;
  for (const auto& s : org.shares) {
    shares[s.object + "/" + s.record_id].push_back(
        {s.grantee, s.access == 1 ? crm::v1::READ : crm::v1::READ_WRITE});
  }
  std::map<std::string, const model::Record*> accounts;
  for (const auto& a : org.accounts) accounts["accounts/" + a.id] = &a;

  std::vector<policy::SqlShape> shapes = {
      {},
      {policy::SqlShape::Form::kScan},
      {policy::SqlShape::Form::kDrive},
      {policy::SqlShape::Form::kScan, 64, /*role_join_min_owners=*/1}};
  if (db->dialect() == store::Dialect::kPostgres) {
    // The shares as an array, for List's fetch-then-sort form
    // (records/list_plan.h); PostgreSQL only.
    policy::SqlShape array;
    array.form = policy::SqlShape::Form::kScan;
    array.share_ids_as_array = true;
    shapes.push_back(array);
  }
  const auto hint_filters = HintFilters(org);
  ASSERT_FALSE(hint_filters.empty()) << "seed " << seed;
  int64_t pairs = 0, allowed = 0, failures = 0;
  int64_t hinted_pairs = 0, hinted_allowed = 0, pruned = 0;
  int64_t consent_denied = 0, consent_allowed = 0;
  int rotation = 0;
  std::map<std::string, int> plans;
  for (const auto& user : org.state.users()) {
    policy::Evaluator eval(snapshot, policy::Principal{"app", user.id()});
    for (const char* object : {"accounts", "contacts"}) {
      const model::ObjectSchema& schema = *registry.Find(object);
      const auto& records = std::string(object) == "accounts" ? org.accounts
                                                              : org.contacts;
      const int account_field = schema.FieldIndex("account");
      for (Operation op : {Operation::kRead, Operation::kEdit, Operation::kDelete}) {
        // Rotate through the shapes.
        const size_t shape_index = rotation++ % shapes.size();
        policy::PlanInfo plan;
        model::SqlFragment where =
            eval.RecordFilter(schema, op, shapes[shape_index], &plan);
        plans[plan.shape]++;
        auto select = [&](const model::SqlFragment& w,
                          std::set<std::string>* ids) {
          model::SqlFragment query;
          query.Append(absl::StrCat("SELECT \"id\" FROM ",
                                    model::QuoteIdentifier(object)));
          if (!w.empty()) {
            query.Append(" WHERE ");
            query.Append(w);
          }
          absl::Status s = db->WithSession([&](store::Session& session) {
            auto rows = store::Query(session, query, "policy filter");
            if (!rows.ok()) return rows.status();
            for (const auto& row : *rows) ids->insert(std::get<std::string>(row[0]));
            return absl::OkStatus();
          });
          EXPECT_TRUE(s.ok()) << s << "\n" << query.sql;
          return s.ok();
        };
        std::set<std::string> visible;
        ASSERT_TRUE(select(where, &visible));

        // The same with a user filter as List runs it: the record filter
        // built with the filter as its hint, ANDed with the filter.
        const HintFilter* hint = nullptr;
        if (auto it = hint_filters.find(object);
            it != hint_filters.end() && !it->second.empty()) {
          hint = &it->second[rotation % it->second.size()];
        }
        std::set<std::string> visible_filtered;
        policy::PlanInfo hinted_plan;
        model::SqlFragment hinted_where;
        if (hint != nullptr) {
          auto filter = query::ParseAndCheckFilter(
              hint->text, schema, [](const model::FieldSchema&) { return true; });
          ASSERT_TRUE(filter.ok()) << filter.status() << ": " << hint->text;
          hinted_where = model::And(
              eval.RecordFilter(schema, op, shapes[shape_index], &hinted_plan,
                                &*filter),
              query::ToSql(*filter));
          pruned += hinted_plan.explanation.find("contradicts the filter") !=
                    std::string::npos;
          ASSERT_TRUE(select(hinted_where, &visible_filtered));
        }
        const int hint_field = hint ? schema.FieldIndex(hint->field) : -1;
        ASSERT_TRUE(hint == nullptr || hint_field >= 0) << hint->field;

        for (const model::Record& record : records) {
          policy::RecordFacts facts;
          facts.record = &record;
          if (auto it = shares.find(std::string(object) + "/" + record.id);
              it != shares.end()) {
            facts.shares = it->second;
          }
          if (account_field >= 0) {
            const auto& account = std::get<std::string>(record.values[account_field]);
            if (auto it = accounts.find(account); it != accounts.end()) {
              facts.parent = it->second;
              if (auto sh = shares.find(account); sh != shares.end()) {
                facts.parent_shares = sh->second;
              }
            }
          }
          if (auto it = consent_facts.find(record.id);
              it != consent_facts.end() && schema.consent_subject()) {
            facts.consents = it->second;
          }
          policy::Decision point = eval.CheckRecord(schema, op, facts);
          bool in_sql = visible.count(record.id) > 0;
          bool ref = reference.Allowed(user.id(), object, op, record);
          ++pairs;
          allowed += ref;
          consent_denied +=
              !point.allowed && absl::StartsWith(point.rule, "consent:");
          consent_allowed += ref && eval.ConsentApplies(schema);
          if (user.id() == org.canary_user) {
            EXPECT_FALSE(point.allowed || in_sql || ref)
                << "the canary sees " << object << "/" << record.id;
          }
          if (hint != nullptr) {
            const auto* v = std::get_if<std::string>(&record.values[hint_field]);
            bool want = ref && v != nullptr && *v == hint->value;
            bool got = visible_filtered.count(record.id) > 0;
            ++hinted_pairs;
            hinted_allowed += want;
            if (got != want && ++failures <= 20) {
              ADD_FAILURE() << "with filter '" << hint->text << "': seed "
                            << seed << " backend "
                            << testing::BackendName(GetParam()) << " user "
                            << user.id() << " " << policy::OperationName(op)
                            << " " << object << "/" << record.id << ": sql "
                            << got << " (" << hinted_plan.shape << ": "
                            << hinted_plan.explanation << "), reference "
                            << want << "\nSQL: " << hinted_where.sql;
            }
          }
          if (point.allowed == in_sql && in_sql == ref) continue;
          if (++failures > 20) continue;
          ADD_FAILURE() << "disagreement: seed " << seed << " backend "
                        << testing::BackendName(GetParam()) << " user "
                        << user.id() << " " << policy::OperationName(op) << " "
                        << object << "/" << record.id << ": point "
                        << point.allowed << " (" << point.rule << "), sql "
                        << in_sql << " (" << plan.shape << ": "
                        << plan.explanation << "), reference " << ref
                        << "\nSQL: " << where.sql;
        }
      }
    }
  }
  // Services acting as themselves ("app" has every object permission):
  // "marketing-app" is marked with the purpose, "app" is not.
  for (const char* service : {"app", "marketing-app"}) {
    const std::string purpose =
        std::string(service) == "app" ? "" : std::string(kPurpose);
    policy::Evaluator eval(snapshot, policy::Principal{service, ""});
    for (const char* object : {"accounts", "contacts"}) {
      const model::ObjectSchema& schema = *registry.Find(object);
      const auto& records = std::string(object) == "accounts" ? org.accounts
                                                              : org.contacts;
      for (Operation op :
           {Operation::kRead, Operation::kEdit, Operation::kDelete}) {
        model::SqlFragment query;
        query.Append(absl::StrCat("SELECT \"id\" FROM ",
                                  model::QuoteIdentifier(object)));
        model::SqlFragment where = eval.RecordFilter(schema, op);
        if (!where.empty()) {
          query.Append(" WHERE ");
          query.Append(where);
        }
        std::set<std::string> visible;
        absl::Status st = db->WithSession([&](store::Session& session) {
          auto rows = store::Query(session, query, "policy filter");
          if (!rows.ok()) return rows.status();
          for (const auto& row : *rows) {
            visible.insert(std::get<std::string>(row[0]));
          }
          return absl::OkStatus();
        });
        ASSERT_TRUE(st.ok()) << st << "\n" << query.sql;
        for (const model::Record& record : records) {
          policy::RecordFacts facts;
          facts.record = &record;
          if (auto it = consent_facts.find(record.id);
              it != consent_facts.end() && schema.consent_subject()) {
            facts.consents = it->second;
          }
          policy::Decision point = eval.CheckRecord(schema, op, facts);
          bool in_sql = visible.count(record.id) > 0;
          bool ref = reference.AllowedAsService(purpose, object, record);
          ++pairs;
          allowed += ref;
          consent_denied +=
              !point.allowed && absl::StartsWith(point.rule, "consent:");
          consent_allowed += ref && eval.ConsentApplies(schema);
          if (point.allowed == in_sql && in_sql == ref) continue;
          if (++failures > 20) continue;
          ADD_FAILURE() << "disagreement: seed " << seed << " backend "
                        << testing::BackendName(GetParam()) << " service "
                        << service << " " << policy::OperationName(op) << " "
                        << object << "/" << record.id << ": point "
                        << point.allowed << " (" << point.rule << "), sql "
                        << in_sql << ", reference " << ref
                        << "\nSQL: " << where.sql;
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << "seed " << seed;
  // Consent decided some pairs both ways.
  EXPECT_GT(consent_denied, 0);
  EXPECT_GT(consent_allowed, 0);
  int64_t per_op = pairs / 3;
  EXPECT_GE(per_op, 10000);
  // Not a vacuous test: a fair share of pairs is allowed, and not all (at
  // least 1%: larger organisations, CRM_POLICY_SIZE > 1, add users faster
  // than any one user's reach grows; seed 7 at size 3 allows 4.7%).
  EXPECT_GT(allowed, pairs / 100);
  EXPECT_LT(allowed, pairs);
  // The filtered runs still found records, and in CI pruned some rules.
  // Pruning needs a user whose criteria rule says `f = c` and a hint filter
  // `f = c'` from another rule: some organisations have no two equality
  // criteria on one field (seed 7), so other seeds only report the count.
  if (seed == kCiSeed) {
    EXPECT_GT(pruned, 0);
  }
  EXPECT_GT(hinted_allowed, 0);
  EXPECT_LT(hinted_allowed, hinted_pairs);
  std::string plan_counts;
  for (const auto& [shape, n] : plans) absl::StrAppend(&plan_counts, shape, "=", n, " ");
  std::cout << "seed " << seed << ": " << pairs << " checks (" << per_op
            << " (user, record) pairs x read/edit/delete), " << allowed
            << " allowed; plans " << plan_counts << "; with a user filter "
            << hinted_pairs << " checks, " << hinted_allowed << " allowed, "
            << pruned << " record filters pruned by it; consent refused "
            << consent_denied << ", allowed " << consent_allowed
            << " to marked principals\n";
}

// List as the server plans it (records::PlanList) returns exactly the
// records of the proven predicate above (RecordFilter with the filter as a
// hint, AND the filter), in the order of the plain walk form, whichever form
// PlanList chose. On PostgreSQL, after ANALYZE, the table statistics make it
// choose fetch-then-sort for some users (the shares as an array).
TEST_P(PolicyDifferentialTest, PlannedListReturnsThePredicateRecords) {
  const uint64_t seed = EnvSeed();
  // Private accounts with the hierarchy, as in the List benchmark: managers
  // get the `scan` form over their team's owners.
  testing::OrgSize size = testing::ScaledOrgSize(EnvSize());
  size.private_accounts = true;
  GeneratedOrg org = testing::GenerateOrg(seed, size);
  const auto consents = AddConsent(&org);
  const auto& registry = model::SchemaRegistry::Default();
  Build(org, consents);
  if (HasFatalFailure()) return;
  const auto& snapshot = snapshot_;
  store::Database* db = db_.get();
  const bool postgres = db->dialect() == store::Dialect::kPostgres;
  if (postgres) {
    ASSERT_TRUE(db->WithSession([](store::Session& s) {
                   return store::Execute(s, {"ANALYZE", {}}, "analyzing")
                       .status();
                 }).ok());
  }
  store::RecordStore records(db);
  const auto hint_filters = HintFilters(org);
  const auto all_fields = [](const model::FieldSchema&) { return true; };
  int lists = 0, fetched = 0, nonempty = 0;
  for (const auto& user : org.state.users()) {
    policy::Evaluator eval(snapshot, policy::Principal{"app", user.id()});
    for (const char* object : {"accounts", "contacts"}) {
      const model::ObjectSchema& schema = *registry.Find(object);
      std::vector<std::string> filters = {""};
      if (auto it = hint_filters.find(object); it != hint_filters.end()) {
        for (const HintFilter& h : it->second) filters.push_back(h.text);
      }
      for (const std::string& text : filters) {
        auto filter = query::ParseAndCheckFilter(text, schema, all_fields);
        ASSERT_TRUE(filter.ok()) << filter.status() << ": " << text;
        std::vector<model::OrderTerm> order = {{"update_time", true}};
        store::ListQuery walk{
            model::And(eval.RecordFilter(schema, Operation::kRead, {},
                                         nullptr, &*filter),
                       query::ToSql(*filter)),
            order, 100000};
        std::vector<std::string> want, got;
        absl::Status st = db->WithSession([&](store::Session& s) {
          auto planned =
              records::PlanList(s, records, eval, schema, *filter, order,
                               {}, 100000);
          if (!planned.ok()) return planned.status();
          fetched += planned->fetch.has_value();
          for (auto* q : {&walk, &*planned}) {
            auto page = records.List(s, schema, *q);
            if (!page.ok()) return page.status();
            auto& ids = q == &walk ? want : got;
            for (const model::Record& r : *page) ids.push_back(r.id);
          }
          return absl::OkStatus();
        });
        ASSERT_TRUE(st.ok()) << st;
        ++lists;
        nonempty += !want.empty();
        EXPECT_EQ(got, want) << "seed " << seed << " user " << user.id()
                             << " " << object << " filter '" << text << "'";
      }
    }
  }
  EXPECT_GT(nonempty, lists / 4);
  if (postgres) {
    EXPECT_GT(fetched, 0) << "no List chose fetch-then-sort";
  }
  std::cout << "seed " << seed << ": " << lists << " planned Lists, "
            << fetched << " fetch-then-sort\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyDifferentialTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         [](const auto& info) {
                           return testing::BackendName(info.param);
                         });

}  // namespace
}  // namespace crm
