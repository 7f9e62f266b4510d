// SummarizeUserAccess's counts (access_review.h) on a real database, both
// backends: each count must be the number of records the point decision
// (Evaluator::AllowsRecord with the record's stored shares) allows, and
// the number List's filter for that operation selects (RecordFilter counted
// on its own), also where the edit and delete counts are taken from the
// subject's manual shares instead of a pass over every readable record:
// read-only shares on records the user may also edit or delete through
// other grants (owner, hierarchy, a read-write share, a group), read-only
// shares alone, and owner- and criteria-based sharing rules that give read
// only (where the read and edit filters differ in more than the shares).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "auth/clock.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/v1/access_review_service.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "policy/snapshot.h"
#include "records/access_review.h"
#include "records/deps.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"
#include "tests/support/policy_org_generator.h"

namespace crm::records {
namespace {

using policy::Operation;

const model::ObjectSchema& Schema(absl::string_view collection) {
  return *model::SchemaRegistry::Default().Find(collection);
}

// boss's role is above sub's; other is outside the hierarchy; group g holds
// boss. Accounts are private with the hierarchy; everyone may read, edit and
// delete accounts. `extra` adds rules.
constexpr char kOrg[] = R"pb(
  version: 1
  roles { name: "roles/boss" }
  roles { name: "roles/sub" parent: "roles/boss" }
  users { id: "boss" role: "roles/boss" profile: "profiles/p" active: true }
  users { id: "sub" role: "roles/sub" profile: "profiles/p" active: true }
  users { id: "other" profile: "profiles/p" active: true }
  permission_sets {
    name: "permissionSets/all"
    object_permissions { object: "accounts" read: true create: true edit: true delete: true }
    object_permissions { object: "contacts" read: true create: true edit: true delete: true }
    assignees: "profiles/p"
  }
  defaults { object: "accounts" internal_access: PRIVATE grant_access_using_hierarchies: true }
  defaults { object: "contacts" internal_access: CONTROLLED_BY_PARENT }
  groups { name: "groups/g" members { user: "users/boss" } }
)pb";

struct Share {
  std::string object;
  std::string record;  // bare id
  std::string grantee;
  int64_t access;  // 1 READ, 2 READ_WRITE
};

struct Counts {
  int64_t readable = 0, editable = 0, deletable = 0;
  bool operator==(const Counts& o) const {
    return readable == o.readable && editable == o.editable &&
           deletable == o.deletable;
  }
};

std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{readable " << c.readable << ", editable " << c.editable
            << ", deletable " << c.deletable << "}";
}

class AccessReviewCountsTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<store::RecordStore>(db_.get());
    deps_.database = db_.get();
    deps_.records = store_.get();
    deps_.clock = &clock_;
  }

  void BuildSnapshot(const crm::internal::PolicyState& state,
                     const google::protobuf::RepeatedPtrField<
                         crm::internal::ServiceConfig>& services) {
    auto snapshot = policy::PolicySnapshot::Build(
        state, services, model::SchemaRegistry::Default());
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    snapshot_ = *std::move(snapshot);
  }

  // Writes the records, the shares, and the users (with their roles: big
  // owner sets are sent as roles joined with the users table).
  void Load(const crm::internal::PolicyState& state,
            const std::vector<model::Record>& accounts,
            const std::vector<model::Record>& contacts,
            const std::vector<Share>& shares) {
    accounts_ = accounts;
    contacts_ = contacts;
    shares_ = shares;
    absl::Status s = db_->InTransaction([&](store::Session& session) {
      for (const auto& [schema, records] :
           {std::pair{&Schema("accounts"), &accounts},
            std::pair{&Schema("contacts"), &contacts}}) {
        for (const model::Record& r : *records) {
          absl::Status st = store_->Insert(session, *schema, r);
          if (!st.ok()) return st;
        }
      }
      auto profile = store::Execute(
          session,
          {"INSERT INTO profiles (id, name, version) VALUES ('pd', 'pd', 1)",
           {}},
          "inserting a profile");
      if (!profile.ok()) return profile.status();
      for (const auto& u : state.users()) {
        std::string role(absl::StripPrefix(u.role(), "roles/"));
        auto st = store::Execute(
            session,
            {"INSERT INTO users (id, username, profile_id, role_id, version) "
             "VALUES (?, ?, 'pd', ?, 1)",
             {u.id(), u.id(), role}},
            "inserting a user");
        if (!st.ok()) return st.status();
      }
      int n = 0;
      for (const Share& sh : shares) {
        auto st = store::Execute(
            session,
            {"INSERT INTO record_shares (id, object, record_id, grantee, "
             "access, created_by, create_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
             {absl::StrCat("s", n++), sh.object, sh.record, sh.grantee,
              sh.access, std::string("users/boss"), int64_t{0}}},
            "inserting a share");
        if (!st.ok()) return st.status();
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  // Deletes every row Load writes.
  void Clear() {
    absl::Status s = db_->InTransaction([](store::Session& session) {
      for (const char* table :
           {"record_shares", "contacts", "accounts", "users", "profiles"}) {
        auto st = store::Execute(
            session, {absl::StrCat("DELETE FROM ", table), {}}, "clearing");
        if (!st.ok()) return st.status();
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  // SummarizeUserAccess's counts for `user` on `collection`.
  Counts Summarized(const std::string& user, const std::string& collection) {
    const policy::Evaluator eval(snapshot_, {"app", user});
    crm::v1::UserAccessSummary out;
    absl::Status s =
        SummarizeUserAccess(deps_, eval, {&Schema(collection)}, &out);
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok() || out.objects_size() != 1) return {-1, -1, -1};
    return {out.objects(0).readable_records(),
            out.objects(0).editable_records(),
            out.objects(0).deletable_records()};
  }

  // The point decisions, record by record, with each record's shares (and
  // its account's, for contacts).
  Counts Decided(const std::string& user, const std::string& collection) {
    const policy::Evaluator eval(snapshot_, {"app", user});
    const model::ObjectSchema& schema = Schema(collection);
    std::map<std::string, std::vector<policy::ShareFact>> shares;
    for (const Share& s : shares_) {
      shares[s.object + "/" + s.record].push_back(
          {s.grantee, s.access == 1 ? crm::v1::READ : crm::v1::READ_WRITE});
    }
    std::map<std::string, const model::Record*> accounts;
    for (const auto& a : accounts_) accounts["accounts/" + a.id] = &a;
    const int account_field = schema.FieldIndex("account");
    Counts c;
    for (const model::Record& r :
         collection == "accounts" ? accounts_ : contacts_) {
      policy::RecordFacts facts;
      facts.record = &r;
      facts.shares = shares[collection + "/" + r.id];
      if (account_field >= 0) {
        const auto* name = std::get_if<std::string>(&r.values[account_field]);
        auto it = name == nullptr ? accounts.end() : accounts.find(*name);
        if (it != accounts.end()) {
          facts.parent = it->second;
          facts.parent_shares = shares["accounts/" + it->second->id];
        }
      }
      // As SummarizeUserAccess: edit and delete are counted when the user
      // holds the object permission, and they imply read.
      if (!eval.AllowsRecord(schema, Operation::kRead, facts)) continue;
      ++c.readable;
      c.editable += eval.AllowsRecord(schema, Operation::kEdit, facts);
      c.deletable += eval.AllowsRecord(schema, Operation::kDelete, facts);
    }
    return c;
  }

  // Each operation's RecordFilter counted on its own, as List applies it.
  Counts Filtered(const std::string& user, const std::string& collection) {
    const policy::Evaluator eval(snapshot_, {"app", user});
    const model::ObjectSchema& schema = Schema(collection);
    Counts c;
    int64_t* out[] = {&c.readable, &c.editable, &c.deletable};
    int i = 0;
    for (Operation op :
         {Operation::kRead, Operation::kEdit, Operation::kDelete}) {
      auto n = store_->Count(schema, eval.RecordFilter(schema, op));
      EXPECT_TRUE(n.ok()) << n.status();
      *out[i++] = n.ok() ? *n : -1;
    }
    return c;
  }

  std::shared_ptr<const policy::PolicySnapshot> snapshot_;
  auth::FakeClock clock_{absl::FromUnixMicros(1700000000000000)};
  std::unique_ptr<store::RecordStore> store_;
  Deps deps_;
  std::vector<model::Record> accounts_, contacts_;
  std::vector<Share> shares_;
};

google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> App() {
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  auto* app = services.Add();
  app->set_name("app");
  auto* all = app->add_grants();
  all->set_object("*");
  all->set_read(true);
  all->set_create(true);
  all->set_edit(true);
  all->set_delete_(true);
  return services;
}

crm::internal::PolicyState Org(const std::string& extra = "") {
  crm::internal::PolicyState state;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat(kOrg, extra), &state));
  return state;
}

model::Record Account(const std::string& id, const std::string& owner,
                      const std::string& industry = "") {
  return policy::testing::MakeRecord(
      "accounts", id,
      {{"owner", "users/" + owner}, {"industry", industry}});
}

// Read-only shares on records boss may edit or delete anyway (owned by the
// subordinate, owned by boss, shared read-write too), read-only shares
// alone, a read-write share alone, and shares to someone else.
std::vector<model::Record> OverlapAccounts() {
  return {Account("a1", "sub"),   Account("a2", "other"),
          Account("a3", "other"), Account("a4", "other"),
          Account("a5", "boss"),  Account("a6", "other"),
          Account("a7", "sub"),   Account("a8", "other"),
          Account("a9", "sub")};
}
std::vector<Share> OverlapShares() {
  return {
      {"accounts", "a1", "users/boss", 1},   // owned below + read-only
      {"accounts", "a2", "users/boss", 1},   // read-only alone
      {"accounts", "a3", "users/boss", 2},   // read-write alone
      {"accounts", "a4", "users/boss", 1},   // read-only + read-write (group)
      {"accounts", "a4", "groups/g", 2},
      {"accounts", "a5", "groups/g", 1},     // owned + read-only (group)
      {"accounts", "a7", "users/boss", 2},   // owned below + read-write
      {"accounts", "a8", "users/sub", 1},    // to sub only
      {"accounts", "a9", "users/boss", 1},   // owned below + read-only twice
      {"accounts", "a9", "groups/g", 1},
  };
}

TEST_P(AccessReviewCountsTest, ReadOnlySharesOverlappingEditableGrants) {
  const crm::internal::PolicyState state = Org();
  BuildSnapshot(state, App());
  Load(state, OverlapAccounts(), {}, OverlapShares());
  if (HasFatalFailure()) return;
  // boss reads a1-a5, a7, a9; edits all but a2; deletes what is owned by
  // boss or below (a1, a5, a7, a9): shares never give delete.
  EXPECT_EQ(Summarized("boss", "accounts"), (Counts{7, 6, 4}));
  // sub owns a1, a7, a9 and reads a8 through a read-only share.
  EXPECT_EQ(Summarized("sub", "accounts"), (Counts{4, 3, 3}));
  EXPECT_EQ(Summarized("other", "accounts"), (Counts{5, 5, 5}));
  for (const char* user : {"boss", "sub", "other"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(Summarized(user, "accounts"), Decided(user, "accounts"));
    EXPECT_EQ(Summarized(user, "accounts"), Filtered(user, "accounts"));
  }
}

// Read-level sharing rules make the read filter differ from the edit
// filter in owners or criteria, not only in shares: the counts still agree.
TEST_P(AccessReviewCountsTest, ReadOnlySharingRulesOverlappingEditableGrants) {
  const crm::internal::PolicyState state = Org(R"pb(
    sharing_rules {
      name: "sharingRules/others-read" object: "accounts"
      owned_by { user: "users/other" } shared_with { user: "users/sub" }
      access: READ
    }
    sharing_rules {
      name: "sharingRules/energy-read" object: "accounts"
      criteria: "industry = \"Energy\""
      shared_with { group: "groups/g" } access: READ
    }
  )pb");
  BuildSnapshot(state, App());
  std::vector<model::Record> accounts = OverlapAccounts();
  accounts.push_back(Account("e1", "sub", "Energy"));    // owned below too
  accounts.push_back(Account("e2", "other", "Energy"));  // the rule alone
  accounts.push_back(Account("e3", "other", "Energy"));  // + read-write share
  std::vector<Share> shares = OverlapShares();
  shares.push_back({"accounts", "e3", "users/boss", 2});
  Load(state, accounts, {}, shares);
  if (HasFatalFailure()) return;
  // boss: as above plus e1 (full), e2 (read), e3 (read-write).
  EXPECT_EQ(Summarized("boss", "accounts"), (Counts{10, 8, 5}));
  // sub: a1, a7, a9, e1 owned; the 7 accounts of other's readable.
  EXPECT_EQ(Summarized("sub", "accounts"), (Counts{11, 4, 4}));
  for (const char* user : {"boss", "sub", "other"}) {
    SCOPED_TRACE(user);
    EXPECT_EQ(Summarized(user, "accounts"), Decided(user, "accounts"));
    EXPECT_EQ(Summarized(user, "accounts"), Filtered(user, "accounts"));
  }
}

// On generated organisations (the policy differential test's generator:
// org-wide defaults, hierarchies, groups, owner- and criteria-based rules
// at read and read-write, restrictions, contacts controlled by their
// account, read and read-write shares), for every user and both objects:
// the summary's counts are the point decisions' and the filters'.
TEST_P(AccessReviewCountsTest, EqualPointDecisionsOnGeneratedOrganisations) {
  int64_t users = 0, read_only = 0, by_shares = 0, overlapping = 0;
  for (uint64_t seed : {11u, 12u, 13u, 14u}) {
    Clear();  // the previous organisation's rows
    if (HasFatalFailure()) return;
    const testing::GeneratedOrg org =
        testing::GenerateOrg(seed, testing::SmallOrgSize());
    BuildSnapshot(org.state, org.services);
    if (HasFatalFailure()) return;
    std::vector<Share> shares;
    for (const auto& s : org.shares) {
      shares.push_back({s.object, s.record_id, s.grantee, s.access});
    }
    Load(org.state, org.accounts, org.contacts, shares);
    if (HasFatalFailure()) return;
    for (const auto& user : org.state.users()) {
      for (const char* object : {"accounts", "contacts"}) {
        SCOPED_TRACE(absl::StrCat("seed ", seed, " users/", user.id(), " ",
                                  object));
        const Counts decided = Decided(user.id(), object);
        ASSERT_EQ(Summarized(user.id(), object), decided);
        ++users;
        read_only += decided.editable < decided.readable;
      }
      // Coverage: read-only shares to the user on accounts the user may
      // edit through other grants, where the edit filter differs from the
      // read filter only in the shares (counted from the user's shares).
      const policy::Evaluator eval(snapshot_, {"app", user.id()});
      const model::ObjectSchema& accounts = Schema("accounts");
      policy::PlanInfo read, edit;
      eval.RecordFilter(accounts, Operation::kRead, {}, &read);
      eval.RecordFilter(accounts, Operation::kEdit, {}, &edit);
      if (read.shape != "scan" && read.shape != "drive") continue;
      if (edit.owners != read.owners ||
          edit.criteria_rules != read.criteria_rules) {
        continue;
      }
      ++by_shares;
      const policy::CompiledPolicy& p = snapshot_->compiled();
      const auto& keys = p.users[p.user_index.at(user.id())].grantee_keys;
      for (const auto& s : org.shares) {
        if (s.object != "accounts" || s.access != 1 ||
            std::find(keys.begin(), keys.end(), s.grantee) == keys.end()) {
          continue;
        }
        for (const auto& a : org.accounts) {
          if (a.id != s.record_id) continue;
          policy::RecordFacts facts;  // no shares: editable otherwise?
          facts.record = &a;
          overlapping += eval.AllowsRecord(accounts, Operation::kEdit, facts);
        }
      }
    }
  }
  std::cout << users << " summaries, " << read_only
            << " with read-only records, " << by_shares
            << " users' account counts from their shares, " << overlapping
            << " read-only shares on otherwise editable accounts\n";
  EXPECT_GT(users, 200);
  EXPECT_GT(read_only, 20) << "too few users with read-only records";
  EXPECT_GT(by_shares, 20);
  EXPECT_GT(overlapping, 5) << "too few read-only shares on editable records";
}

INSTANTIATE_TEST_SUITE_P(Backends, AccessReviewCountsTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         store::BackendParamName);

}  // namespace
}  // namespace crm::records
