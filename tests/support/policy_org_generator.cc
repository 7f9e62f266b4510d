#include "tests/support/policy_org_generator.h"

#include <algorithm>
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/message.h"
#include "model/object_schema.h"

namespace crm::testing {
namespace {

using crm::v1::Grantee;
using crm::v1::OrgWideDefault;

const std::vector<std::string> kIndustries = {"Energy", "Retail", "Banking",
                                              "Health", ""};
const std::vector<std::string> kCountries = {"DE", "FR", "GB", "US"};
const std::vector<std::string> kTitles = {"CEO", "CTO", "Buyer", ""};

class Generator {
 public:
  Generator(uint64_t seed, const OrgSize& size)
      : rng_(seed), size_(size) {
    org_.seed = seed;
  }

  GeneratedOrg Run() {
    Roles();
    Users();
    Groups();
    PermissionSets();
    Defaults();
    SharingRules();
    RestrictionRules();
    Services();
    Records();
    Shares();
    org_.state.set_version(static_cast<int64_t>(org_.seed % 1000) + 1);
    return std::move(org_);
  }

 private:
  int Uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Uniform(v.size())]; }

  std::string RandomUser() { return Pick(user_ids_); }

  Grantee RandomGrantee(bool allow_user = true) {
    Grantee g;
    int kind = Uniform(allow_user ? 4 : 3);
    if (kind == 3 || (kind == 2 && group_names_.empty())) {
      g.set_user(absl::StrCat("users/", RandomUser()));
    } else if (kind == 0) {
      g.set_role(Pick(role_names_));
    } else if (kind == 1) {
      g.set_role_and_subordinates(Pick(role_names_));
    } else {
      g.set_group(Pick(group_names_));
    }
    return g;
  }

  std::string GranteeKeyOf(const Grantee& g) {
    switch (g.kind_case()) {
      case Grantee::kUser:
        return g.user();
      case Grantee::kRole:
        return g.role();
      case Grantee::kRoleAndSubordinates:
        return absl::StrCat("roleAndSubordinates/",
                            g.role_and_subordinates().substr(6));
      case Grantee::kGroup:
        return g.group();
      case Grantee::KIND_NOT_SET:
        break;
    }
    return "";
  }

  void Roles() {
    std::vector<std::string> level = {"roles/r0"};
    role_names_.push_back("roles/r0");
    org_.state.add_roles()->set_name("roles/r0");
    for (int depth = 1; depth < size_.role_levels; ++depth) {
      std::vector<std::string> next;
      for (const std::string& parent : level) {
        for (int c = 0; c < size_.role_fanout; ++c) {
          std::string name = absl::StrCat("roles/r", role_names_.size());
          auto* role = org_.state.add_roles();
          role->set_name(name);
          role->set_parent(parent);
          role_names_.push_back(name);
          next.push_back(name);
        }
      }
      level = std::move(next);
    }
  }

  void Users() {
    for (int i = 0; i < size_.users; ++i) {
      std::string id = absl::StrCat("u", i);
      auto* u = org_.state.add_users();
      u->set_id(id);
      u->set_active(!Chance(0.04));
      if (!Chance(0.08)) u->set_role(Pick(role_names_));
      if (!Chance(0.05)) u->set_profile(absl::StrCat("profiles/p", Uniform(4)));
      if (Chance(0.02)) u->add_profile_system_permissions(crm::v1::VIEW_ALL_DATA);
      user_ids_.push_back(id);
    }
    org_.canary_user = "canary";
    auto* canary = org_.state.add_users();
    canary->set_id("canary");
    canary->set_active(true);
  }

  void Groups() {
    for (int i = 0; i < size_.groups; ++i) {
      group_names_.push_back(absl::StrCat("groups/g", i));
    }
    for (int i = 0; i < size_.groups; ++i) {
      auto* g = org_.state.add_groups();
      g->set_name(group_names_[i]);
      int members = 1 + Uniform(4);
      for (int m = 0; m < members; ++m) {
        // Nested groups only point to higher indexes: no cycles.
        if (i + 1 < size_.groups && Chance(0.3)) {
          g->add_members()->set_group(
              group_names_[i + 1 + Uniform(size_.groups - i - 1)]);
          continue;
        }
        Grantee member;
        int kind = Uniform(4);
        if (kind < 2) {
          member.set_user(absl::StrCat("users/", RandomUser()));
        } else if (kind == 2) {
          member.set_role(Pick(role_names_));
        } else {
          member.set_role_and_subordinates(Pick(role_names_));
        }
        *g->add_members() = member;
      }
    }
  }

  void Set(const std::string& name, const std::vector<std::string>& assignees,
           const std::vector<crm::v1::ObjectPermission>& perms) {
    auto* s = org_.state.add_permission_sets();
    s->set_name(name);
    for (const auto& p : perms) *s->add_object_permissions() = p;
    for (const auto& a : assignees) s->add_assignees(a);
  }

  static crm::v1::ObjectPermission Perm(const std::string& object, bool read,
                                        bool edit, bool del,
                                        bool view_all = false,
                                        bool modify_all = false) {
    crm::v1::ObjectPermission p;
    p.set_object(object);
    p.set_read(read);
    p.set_edit(edit);
    p.set_delete_(del);
    p.set_view_all(view_all);
    p.set_modify_all(modify_all);
    return p;
  }

  void PermissionSets() {
    Set("permissionSets/acc-read", {"profiles/p0", "profiles/p1"},
        {Perm("accounts", true, false, false)});
    Set("permissionSets/acc-edit", {"profiles/p1", "profiles/p2"},
        {Perm("accounts", true, true, true)});
    Set("permissionSets/con", {"profiles/p0", "profiles/p2"},
        {Perm("contacts", true, true, true)});
    Set("permissionSets/con-read", {"profiles/p1"},
        {Perm("contacts", true, false, false)});
    std::vector<std::string> view_all, modify_all;
    for (const std::string& u : user_ids_) {
      if (Chance(0.03)) view_all.push_back(absl::StrCat("users/", u));
      if (Chance(0.02)) modify_all.push_back(absl::StrCat("users/", u));
    }
    Set("permissionSets/view-all", view_all,
        {Perm("accounts", false, false, false, true),
         Perm("contacts", false, false, false, true)});
    Set("permissionSets/modify-all", modify_all,
        {Perm("accounts", false, false, false, false, true)});
  }

  void Defaults() {
    auto* a = org_.state.add_defaults();
    a->set_object("accounts");
    int r = Uniform(10);
    a->set_internal_access(r < 7   ? OrgWideDefault::PRIVATE
                           : r < 9 ? OrgWideDefault::PUBLIC_READ
                                   : OrgWideDefault::PUBLIC_READ_WRITE);
    a->set_grant_access_using_hierarchies(Chance(0.7));
    if (size_.private_accounts) {
      a->set_internal_access(OrgWideDefault::PRIVATE);
      a->set_grant_access_using_hierarchies(true);
    }
    auto* c = org_.state.add_defaults();
    c->set_object("contacts");
    contacts_by_parent_ = Chance(0.75);
    c->set_internal_access(contacts_by_parent_ ? OrgWideDefault::CONTROLLED_BY_PARENT
                                               : OrgWideDefault::PRIVATE);
    c->set_grant_access_using_hierarchies(Chance(0.5));
  }

  std::vector<GeneratedComparison> RandomCriterion(const std::string& object) {
    std::vector<GeneratedComparison> out;
    int terms = 1 + (Chance(0.3) ? 1 : 0);
    for (int t = 0; t < terms; ++t) {
      GeneratedComparison c;
      int kind = Uniform(3);
      if (object == "accounts") {
        if (kind == 0) {
          c = {"industry", Chance(0.8) ? "=" : "!=", Pick(kIndustries)};
        } else if (kind == 1) {
          c = {"billing_country", Chance(0.8) ? "=" : "!=", Pick(kCountries)};
        } else {
          c = {"employee_count", Chance(0.5) ? ">" : "<=", "", Uniform(1000)};
        }
      } else {
        if (kind == 0) {
          c = {"title", "=", Pick(kTitles)};
        } else {
          c = {"mailing_country", Chance(0.8) ? "=" : "!=", Pick(kCountries)};
        }
      }
      out.push_back(c);
    }
    return out;
  }

  static std::string CriterionText(const std::vector<GeneratedComparison>& cs) {
    std::vector<std::string> parts;
    for (const auto& c : cs) {
      parts.push_back(c.field == "employee_count"
                          ? absl::StrCat(c.field, " ", c.op, " ", c.number)
                          : absl::StrCat(c.field, " ", c.op, " \"", c.text,
                                         "\""));
    }
    return absl::StrJoin(parts, " AND ");
  }

  void SharingRules() {
    for (int i = 0; i < size_.sharing_rules; ++i) {
      std::string object =
          contacts_by_parent_ || Chance(0.7) ? "accounts" : "contacts";
      auto* r = org_.state.add_sharing_rules();
      r->set_name(absl::StrCat("sharingRules/s", i));
      r->set_object(object);
      if (Chance(0.5)) {
        *r->mutable_owned_by() = RandomGrantee();
      } else {
        auto criterion = RandomCriterion(object);
        r->set_criteria(CriterionText(criterion));
        org_.criteria[r->name()] = criterion;
      }
      *r->mutable_shared_with() = RandomGrantee();
      r->set_access(Chance(0.5) ? crm::v1::READ : crm::v1::READ_WRITE);
    }
  }

  void RestrictionRules() {
    for (int i = 0; i < size_.restriction_rules; ++i) {
      std::string object = Chance(0.7) ? "accounts" : "contacts";
      auto* r = org_.state.add_restriction_rules();
      r->set_name(absl::StrCat("restrictionRules/x", i));
      r->set_object(object);
      *r->mutable_applies_to() = RandomGrantee();
      auto criterion = RandomCriterion(object);
      r->set_criteria(CriterionText(criterion));
      org_.criteria[r->name()] = criterion;
    }
  }

  void Services() {
    auto* app = org_.services.Add();
    app->set_name("app");
    auto* g = app->add_grants();
    g->set_object("*");
    g->set_read(true);
    g->set_create(true);
    g->set_edit(true);
    g->set_delete_(true);
  }

  model::Record NewRecord(absl::string_view collection, std::string id) {
    const model::ObjectSchema& schema =
        *model::SchemaRegistry::Default().Find(collection);
    const google::protobuf::Message* prototype =
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(
            schema.descriptor());
    model::Record r = model::RecordFromMessage(schema, *prototype);
    r.id = std::move(id);
    r.version = 1;
    auto set = [&](absl::string_view field, model::SqlValue v) {
      int i = schema.FieldIndex(field);
      if (i < 0) abort();
      r.values[i] = std::move(v);
    };
    set("owner", Chance(0.05) ? std::string("services/app")
                              : absl::StrCat("users/", RandomUser()));
    set("source", std::string("services/app"));
    int64_t t = 1700000000000000 + Uniform(1000000) * int64_t{1000};
    set("create_time", t);
    set("update_time", t);
    return r;
  }

  void Records() {
    const model::ObjectSchema& accounts =
        *model::SchemaRegistry::Default().Find("accounts");
    for (int i = 0; i < size_.accounts; ++i) {
      model::Record r = NewRecord("accounts", absl::StrCat("a", i));
      r.values[accounts.FieldIndex("display_name")] = absl::StrCat("Account ", i);
      r.values[accounts.FieldIndex("industry")] = Pick(kIndustries);
      r.values[accounts.FieldIndex("billing_country")] = Pick(kCountries);
      r.values[accounts.FieldIndex("employee_count")] =
          static_cast<int64_t>(Uniform(1000));
      org_.accounts.push_back(std::move(r));
    }
    const model::ObjectSchema& contacts =
        *model::SchemaRegistry::Default().Find("contacts");
    for (int i = 0; i < size_.contacts; ++i) {
      model::Record r = NewRecord("contacts", absl::StrCat("c", i));
      r.values[contacts.FieldIndex("last_name")] = absl::StrCat("Person ", i);
      r.values[contacts.FieldIndex("title")] = Pick(kTitles);
      r.values[contacts.FieldIndex("mailing_country")] = Pick(kCountries);
      std::string account;
      int k = Uniform(100);
      if (k < 75 && size_.accounts > 0) {
        account = absl::StrCat("accounts/a", Uniform(size_.accounts));
      } else if (k < 80) {
        account = "accounts/missing";
      }
      r.values[contacts.FieldIndex("account")] = account;
      org_.contacts.push_back(std::move(r));
    }
  }

  void Shares() {
    for (int i = 0; i < size_.shares; ++i) {
      GeneratedShare s;
      s.id = absl::StrCat("sh", i);
      bool account = size_.contacts == 0 || Chance(0.6);
      if (account && size_.accounts == 0) break;
      s.object = account ? "accounts" : "contacts";
      s.record_id = account ? org_.accounts[Uniform(size_.accounts)].id
                            : org_.contacts[Uniform(size_.contacts)].id;
      s.grantee = GranteeKeyOf(RandomGrantee());
      s.access = Chance(0.5) ? 1 : 2;
      org_.shares.push_back(std::move(s));
    }
  }

  std::mt19937_64 rng_;
  OrgSize size_;
  GeneratedOrg org_;
  std::vector<std::string> role_names_;
  std::vector<std::string> user_ids_;
  std::vector<std::string> group_names_;
  bool contacts_by_parent_ = false;
};

}  // namespace

OrgSize SmallOrgSize() { return OrgSize(); }

OrgSize BenchOrgSize() {
  OrgSize s;
  s.users = 10000;
  s.role_levels = 8;
  s.role_fanout = 2;
  s.groups = 300;
  s.sharing_rules = 50;
  s.restriction_rules = 5;
  s.accounts = 0;
  s.contacts = 0;
  s.shares = 0;
  return s;
}

OrgSize ListBenchOrgSize() {
  OrgSize s = BenchOrgSize();
  s.private_accounts = true;
  return s;
}

OrgSize ScaledOrgSize(double factor) {
  OrgSize s;
  auto scale = [factor](int n) { return std::max(1, static_cast<int>(n * factor)); };
  s.users = scale(s.users);
  s.accounts = scale(s.accounts);
  s.contacts = scale(s.contacts);
  s.shares = scale(s.shares);
  s.groups = scale(s.groups);
  return s;
}

GeneratedOrg GenerateOrg(uint64_t seed, const OrgSize& size) {
  return Generator(seed, size).Run();
}

}  // namespace crm::testing
