#include "policy/evaluator.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/policy_test_org.h"

namespace crm::policy {
namespace {

using testing::MakeRecord;
using testing::Schema;
using testing::TestSnapshot;

struct Case {
  std::string what;
  std::string user;  // "" = service acting as itself
  std::string service;
  std::string object;
  Operation op;
  std::map<std::string, std::string> values;  // owner, industry, ...
  std::vector<ShareFact> shares;
  bool with_parent = false;  // contacts: the parent account below
  std::map<std::string, std::string> parent_values;
  bool allowed;
  std::string rule;
};

TEST(Evaluator, DecisionTable) {
  auto snapshot = TestSnapshot();
  const std::vector<Case> cases = {
      {"owner reads", "alice", "web", "accounts", Operation::kRead,
       {{"owner", "users/alice"}}, {}, false, {}, true, "owner"},
      {"owner edits", "alice", "web", "accounts", Operation::kEdit,
       {{"owner", "users/alice"}}, {}, false, {}, true, "owner"},
      {"no delete permission", "alice", "web", "accounts", Operation::kDelete,
       {{"owner", "users/alice"}}, {}, false, {}, false,
       "no-grant:accounts:delete"},
      {"manager via hierarchy", "vp", "web", "accounts", Operation::kEdit,
       {{"owner", "users/alice"}}, {}, false, {}, true,
       "hierarchy:via roles/rep1"},
      {"ceo two levels up (modify-all first)", "ceo", "web", "accounts",
       Operation::kDelete, {{"owner", "users/bob"}}, {}, false, {}, true,
       "modify-all:accounts"},
      {"peer sees nothing", "bob", "web", "accounts", Operation::kRead,
       {{"owner", "users/carol"}}, {}, false, {}, false, "no-access"},
      {"subordinate does not see up", "alice", "web", "accounts",
       Operation::kRead, {{"owner", "users/vp"}}, {}, false, {}, false,
       "no-access"},
      {"owner-based rule", "alice", "web", "accounts", Operation::kRead,
       {{"owner", "users/bob"}}, {}, false, {}, true,
       "sharing-rule:sharingRules/owner"},
      {"owner-based rule is read only", "alice", "web", "accounts",
       Operation::kEdit, {{"owner", "users/bob"}}, {}, false, {}, false,
       "no-access"},
      {"criteria rule, direct member", "bob", "web", "accounts",
       Operation::kEdit, {{"owner", "users/vp"}, {"industry", "Energy"}}, {},
       false, {}, true, "sharing-rule:sharingRules/energy"},
      {"criteria rule via nested group and role", "alice", "web", "accounts",
       Operation::kEdit, {{"owner", "users/vp"}, {"industry", "Energy"}}, {},
       false, {}, true, "sharing-rule:sharingRules/energy"},
      {"criteria rule not matching", "alice", "web", "accounts",
       Operation::kRead, {{"owner", "users/vp"}, {"industry", "Retail"}}, {},
       false, {}, false, "no-access"},
      {"rules never give full access", "bob", "web", "accounts",
       Operation::kShare, {{"owner", "users/vp"}, {"industry", "Energy"}}, {},
       false, {}, false, "no-access"},
      {"restriction hides own record", "carol", "web", "accounts",
       Operation::kRead, {{"owner", "users/carol"}, {"billing_country", "FR"}},
       {}, false, {}, false, "restriction-rule:restrictionRules/de"},
      {"restriction satisfied", "carol", "web", "accounts", Operation::kRead,
       {{"owner", "users/carol"}, {"billing_country", "DE"}}, {}, false, {},
       true, "owner"},
      {"view-all", "dave", "web", "accounts", Operation::kRead,
       {{"owner", "users/bob"}}, {}, false, {}, true, "view-all:accounts"},
      {"view-all does not edit", "dave", "web", "accounts", Operation::kEdit,
       {{"owner", "users/bob"}}, {}, false, {}, false,
       "no-grant:accounts:edit"},
      {"system modify-all data", "sysadmin", "web", "accounts",
       Operation::kDelete, {{"owner", "users/bob"}}, {}, false, {}, true,
       "system:MODIFY_ALL_DATA"},
      {"share to a group", "alice", "web", "accounts", Operation::kRead,
       {{"owner", "users/vp"}}, {{"groups/emea", crm::v1::READ}}, false, {},
       true, "share:groups/emea"},
      {"read share does not edit", "alice", "web", "accounts",
       Operation::kEdit, {{"owner", "users/vp"}},
       {{"groups/emea", crm::v1::READ}}, false, {}, false, "no-access"},
      {"share to role and subordinates", "alice", "web", "accounts",
       Operation::kEdit, {{"owner", "users/ceo"}},
       {{"roleAndSubordinates/vp", crm::v1::READ_WRITE}}, false, {}, true,
       "share:roleAndSubordinates/vp"},
      {"share to a role is not to its subordinates", "alice", "web",
       "accounts", Operation::kRead, {{"owner", "users/ceo"}},
       {{"roles/vp", crm::v1::READ_WRITE}}, false, {}, false, "no-access"},
      {"share to someone else", "alice", "web", "accounts", Operation::kRead,
       {{"owner", "users/ceo"}}, {{"users/bob", crm::v1::READ}}, false, {},
       false, "no-access"},
      {"inactive user", "eve", "web", "accounts", Operation::kRead,
       {{"owner", "users/eve"}}, {}, false, {}, false, "inactive-user:eve"},
      {"unknown user", "zed", "web", "accounts", Operation::kRead,
       {{"owner", "users/zed"}}, {}, false, {}, false, "unknown-user:zed"},
      {"no permission sets", "frank", "web", "accounts", Operation::kRead,
       {{"owner", "users/frank"}}, {}, false, {}, false,
       "no-grant:accounts:read"},
      {"service scope limits user", "alice", "readonly", "accounts",
       Operation::kEdit, {{"owner", "users/alice"}}, {}, false, {}, false,
       "service-scope:readonly:accounts:edit"},
      {"service scope allows read", "alice", "readonly", "accounts",
       Operation::kRead, {{"owner", "users/alice"}}, {}, false, {}, true,
       "owner"},
      {"service as itself", "", "readonly", "accounts", Operation::kRead,
       {{"owner", "users/alice"}}, {}, false, {}, true,
       "service-grant:readonly:accounts:read"},
      {"service as itself, no grant", "", "readonly", "accounts",
       Operation::kEdit, {{"owner", "users/alice"}}, {}, false, {}, false,
       "no-grant:accounts:edit"},
      {"service as itself: read only, so READ access: no share", "",
       "readonly", "accounts", Operation::kShare, {{"owner", "users/alice"}},
       {}, false, {}, false, "service-access:read"},
      {"service as itself: delete gives FULL access: share", "", "web",
       "accounts", Operation::kShare, {{"owner", "users/alice"}}, {}, false,
       {}, true, "service-grant:web:accounts:share"},
      {"service as itself: delete gives FULL access: transfer", "", "web",
       "accounts", Operation::kTransfer, {{"owner", "users/alice"}}, {}, false,
       {}, true, "service-grant:web:accounts:transfer"},
      {"unknown service", "", "nobody", "accounts", Operation::kRead,
       {{"owner", "users/alice"}}, {}, false, {}, false,
       "unknown-service:nobody"},
      {"public read", "alice", "web", "leads", Operation::kRead,
       {{"owner", "users/ceo"}}, {}, false, {}, true,
       "org-default:PUBLIC_READ"},
      {"public read does not edit", "alice", "web", "leads", Operation::kEdit,
       {{"owner", "users/ceo"}}, {}, false, {}, false, "no-access"},
      {"contact follows its account", "alice", "web", "contacts",
       Operation::kDelete,
       {{"owner", "users/ceo"}, {"account", "accounts/a1"}}, {}, true,
       {{"owner", "users/alice"}}, true, "parent:accounts/a1 -> owner"},
      {"contact: account shared read only", "alice", "web", "contacts",
       Operation::kEdit,
       {{"owner", "users/alice"}, {"account", "accounts/a1"}}, {}, true,
       {{"owner", "users/bob"}}, false, "parent:accounts/a1 -> no-access"},
      {"contact: account read via rule", "alice", "web", "contacts",
       Operation::kRead,
       {{"owner", "users/alice"}, {"account", "accounts/a1"}}, {}, true,
       {{"owner", "users/bob"}}, true,
       "parent:accounts/a1 -> sharing-rule:sharingRules/owner"},
      {"contact: account restricted", "carol", "web", "contacts",
       Operation::kRead,
       {{"owner", "users/carol"}, {"account", "accounts/a1"}}, {}, true,
       {{"owner", "users/carol"}, {"billing_country", "FR"}}, false,
       "parent:accounts/a1 -> restriction-rule:restrictionRules/de"},
      {"contact: parent not supplied", "alice", "web", "contacts",
       Operation::kRead,
       {{"owner", "users/alice"}, {"account", "accounts/a1"}}, {}, false, {},
       false, "parent-missing:accounts/a1"},
      {"contact without account: owner", "bob", "web", "contacts",
       Operation::kRead, {{"owner", "users/bob"}}, {}, false, {}, true,
       "owner"},
      {"contact without account: hierarchy", "vp", "web", "contacts",
       Operation::kEdit, {{"owner", "users/bob"}}, {}, false, {}, true,
       "hierarchy:via roles/rep2"},
      {"contact without account: share", "alice", "web", "contacts",
       Operation::kRead, {{"owner", "users/bob"}},
       {{"users/alice", crm::v1::READ}}, false, {}, true, "share:users/alice"},
      {"contact without account: nothing", "alice", "web", "contacts",
       Operation::kRead, {{"owner", "users/bob"}}, {}, false, {}, false,
       "no-access"},
  };
  for (const Case& c : cases) {
    Evaluator eval(snapshot, Principal{c.service, c.user});
    model::Record record = MakeRecord(c.object, "r1", c.values);
    model::Record parent = MakeRecord("accounts", "a1", c.parent_values);
    RecordFacts facts;
    facts.record = &record;
    facts.shares = c.shares;
    if (c.with_parent) facts.parent = &parent;
    Decision d = eval.CheckRecord(Schema(c.object), c.op, facts);
    EXPECT_EQ(d.allowed, c.allowed) << c.what << ": " << d.rule;
    EXPECT_EQ(d.rule, c.rule) << c.what;
    EXPECT_EQ(eval.AllowsRecord(Schema(c.object), c.op, facts), c.allowed)
        << c.what;
  }
}

// A service acting as itself gets record access from its object
// permissions: read -> READ, edit -> READ_WRITE, delete (or modify_all, from
// a permission set) -> FULL.
TEST(Evaluator, ServiceAsItselfRecordAccessFollowsObjectPermissions) {
  auto services = testing::TestServices();
  auto* editor = services.Add();
  editor->set_name("editor");
  auto* g = editor->add_grants();
  g->set_object("accounts");
  g->set_read(true);
  g->set_edit(true);
  auto* admin = services.Add();
  admin->set_name("admin");
  auto* a = admin->add_grants();
  a->set_object("accounts");
  a->set_read(true);
  a->set_edit(true);
  a->set_delete_(true);
  auto snapshot = PolicySnapshot::Build(testing::TestState(), services,
                                        model::SchemaRegistry::Default());
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const model::Record record =
      MakeRecord("accounts", "r1", {{"owner", "users/alice"}});
  struct {
    std::string service;
    Operation op;
    bool allowed;
    std::string rule;
  } cases[] = {
      {"readonly", Operation::kRead, true,
       "service-grant:readonly:accounts:read"},
      {"readonly", Operation::kShare, false, "service-access:read"},
      {"editor", Operation::kEdit, true, "service-grant:editor:accounts:edit"},
      {"editor", Operation::kShare, false, "service-access:read-write"},
      {"editor", Operation::kTransfer, false, "service-access:read-write"},
      {"editor", Operation::kDelete, false, "no-grant:accounts:delete"},
      {"admin", Operation::kShare, true, "service-grant:admin:accounts:share"},
      {"admin", Operation::kTransfer, true,
       "service-grant:admin:accounts:transfer"},
      {"admin", Operation::kDelete, true, "service-grant:admin:accounts:delete"},
  };
  for (const auto& c : cases) {
    Evaluator eval(*snapshot, Principal{c.service, ""});
    Decision d = eval.CheckRecord(Schema("accounts"), c.op, record);
    EXPECT_EQ(d.allowed, c.allowed) << c.service << " " << OperationName(c.op);
    EXPECT_EQ(d.rule, c.rule) << c.service << " " << OperationName(c.op);
    if (!d.allowed && absl::StartsWith(d.rule, "service-access:")) {
      EXPECT_THAT(d.reason, ::testing::HasSubstr("service " + c.service))
          << d.reason;
    }
  }
}

TEST(Evaluator, NeedsParentOnlyForControlledObjectsActingForUsers) {
  auto snapshot = TestSnapshot();
  Evaluator user(snapshot, Principal{"web", "alice"});
  Evaluator service(snapshot, Principal{"web", ""});
  EXPECT_TRUE(user.NeedsParent(Schema("contacts")));
  EXPECT_FALSE(user.NeedsParent(Schema("accounts")));
  EXPECT_FALSE(service.NeedsParent(Schema("contacts")));
}

struct FieldCase {
  std::string user;
  std::string service;
  std::string object;
  std::string field;
  bool readable;
  bool writable;
};

TEST(Evaluator, FieldPermissions) {
  auto snapshot = TestSnapshot();
  const std::vector<FieldCase> cases = {
      // Ordinary field: readable and writable with the object permission.
      {"alice", "web", "accounts", "industry", true, true},
      // A read-only grant on a non-sensitive field makes it read-only.
      {"alice", "web", "accounts", "phone", true, false},
      // read=false on a non-sensitive field hides it ...
      {"alice", "web", "accounts", "description", false, false},
      // ... unless another held set grants it.
      {"ceo", "web", "accounts", "description", true, true},
      // Sensitive: needs an explicit grant, from both the user and the
      // service when acting for a user.
      {"alice", "web", "contacts", "personal_phone", true, false},
      {"alice", "readonly", "contacts", "personal_phone", false, false},
      {"dave", "web", "contacts", "personal_phone", false, false},
      {"", "web", "contacts", "personal_phone", true, true},
      {"", "readonly", "contacts", "personal_phone", false, false},
      // No object permission: nothing readable.
      {"frank", "web", "accounts", "industry", false, true},
      {"", "readonly", "accounts", "industry", true, true},
  };
  for (const FieldCase& c : cases) {
    Evaluator eval(snapshot, Principal{c.service, c.user});
    const model::ObjectSchema& schema = Schema(c.object);
    const model::FieldSchema& field = *schema.FindField(c.field);
    EXPECT_EQ(eval.CanReadField(schema, field), c.readable)
        << c.user << "@" << c.service << " read " << c.object << "." << c.field;
    const FieldAccess access = eval.Fields(schema);
    const int index = schema.FieldIndex(c.field);
    EXPECT_EQ(access.CanRead(index), c.readable) << c.user << " " << c.field;
    EXPECT_EQ(access.CanWrite(index), c.writable) << c.user << " " << c.field;
    Decision w = eval.CheckFieldWrite(schema, field);
    EXPECT_EQ(w.allowed, c.writable)
        << c.user << "@" << c.service << " write " << c.object << "."
        << c.field << ": " << w.rule;
  }
  Evaluator alice(snapshot, Principal{"web", "alice"});
  EXPECT_EQ(alice.CheckFieldWrite(Schema("contacts"),
                                  *Schema("contacts").FindField("personal_phone"))
                .rule,
            "sensitive-field:contacts.personal_phone");
  EXPECT_EQ(alice.CheckFieldWrite(Schema("accounts"),
                                  *Schema("accounts").FindField("phone"))
                .rule,
            "field-not-writable:accounts.phone");
}

TEST(Evaluator, ObjectPermissionIntersectsUserAndService) {
  auto snapshot = TestSnapshot();
  struct {
    std::string user, service, object;
    Operation op;
    bool allowed;
  } cases[] = {
      {"alice", "web", "accounts", Operation::kCreate, true},
      {"alice", "readonly", "accounts", Operation::kCreate, false},
      {"alice", "readonly", "contacts", Operation::kRead, true},
      {"alice", "readonly", "leads", Operation::kRead, false},  // service lacks
      {"dave", "web", "leads", Operation::kRead, false},        // user lacks
      {"alice", "web", "accounts", Operation::kShare, true},    // needs read
      {"alice", "web", "accounts", Operation::kTransfer, true},  // needs edit
      {"dave", "web", "accounts", Operation::kTransfer, false},
  };
  for (const auto& c : cases) {
    Evaluator eval(snapshot, Principal{c.service, c.user});
    EXPECT_EQ(eval.CheckObject(Schema(c.object), c.op).allowed, c.allowed)
        << c.user << "@" << c.service << " " << OperationName(c.op) << " "
        << c.object;
    EXPECT_EQ(eval.AllowsObject(Schema(c.object), c.op), c.allowed)
        << c.user << "@" << c.service << " " << OperationName(c.op) << " "
        << c.object;
  }
}

TEST(Evaluator, RecordFilterShapes) {
  auto snapshot = TestSnapshot();
  struct {
    std::string user, service, object;
    Operation op;
    std::string shape;
  } cases[] = {
      {"dave", "web", "accounts", Operation::kRead, "all"},
      {"ceo", "web", "accounts", Operation::kDelete, "all"},
      {"", "web", "accounts", Operation::kRead, "service-scope"},
      {"eve", "web", "accounts", Operation::kRead, "none"},
      {"frank", "web", "accounts", Operation::kRead, "none"},
      {"vp", "web", "accounts", Operation::kRead, "drive"},
      {"bob", "web", "accounts", Operation::kRead, "scan"},  // criteria rule
      {"alice", "web", "leads", Operation::kRead, "all"},
      {"alice", "web", "leads", Operation::kEdit, "drive"},
  };
  for (const auto& c : cases) {
    Evaluator eval(snapshot, Principal{c.service, c.user});
    PlanInfo plan;
    model::SqlFragment f = eval.RecordFilter(Schema(c.object), c.op, {}, &plan);
    EXPECT_EQ(plan.shape, c.shape) << c.user << " " << c.object << ": "
                                   << f.sql << " / " << plan.explanation;
  }
  Evaluator carol(snapshot, Principal{"web", "carol"});
  PlanInfo plan;
  model::SqlFragment f =
      carol.RecordFilter(Schema("accounts"), Operation::kRead, {}, &plan);
  EXPECT_EQ(plan.restriction_rules, 1u);
  EXPECT_NE(f.sql.find("\"billing_country\" = ?"), std::string::npos) << f.sql;
  EXPECT_NE(f.sql.find("\"record_shares\""), std::string::npos) << f.sql;
}

}  // namespace
}  // namespace crm::policy
