#include "server/demo_data.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "auth/authenticator.h"
#include "auth/profile_restrictions.h"
#include "crm/v1/policy.pb.h"
#include "crm/v1/resources.pb.h"
#include "model/record.h"
#include "policy/snapshot.h"
#include "server/log.h"
#include "server/request_context.h"
#include "store/consent_store.h"
#include "store/identity_store.h"
#include "store/policy_store.h"
#include "store/statement.h"

namespace crm::server {
namespace {

using crm::v1::FieldPermission;
using crm::v1::ObjectPermission;
using crm::v1::OrgWideDefault;
using crm::v1::PermissionSet;

// --- Identities ----------------------------------------------------------

struct DemoUser {
  auth::NewUser user;
  const char* role;  // role id, assigned with the policy
};

// Demo passwords (documented in the README) are "<username>-demo-pw".
std::vector<DemoUser> DemoUsers() {
  auto user = [](const char* id, const char* name, const char* profile,
                 const char* zone, const char* role) {
    return DemoUser{
        {id, id, name, absl::StrCat(id, "-demo-pw"), profile, zone, true},
        role};
  };
  return {
      user("alice", "Alice Admin", "admin", "Europe/London", "ceo"),
      user("erin", "Erin Manager", "sales-manager", "Europe/London",
           "sales-manager"),
      user("bob", "Bob Seller", "sales-rep", "Europe/London", "sales-rep"),
      user("frank", "Frank Seller", "sales-rep", "Europe/London", "sales-rep"),
      user("carol", "Carol Contractor", "contractor", "Europe/Paris", ""),
      user("dave", "Dave Partner", "eu-partner", "Europe/Paris", ""),
      // The security team: reads the audit trail, sees no record.
      user("audrey", "Audrey Auditor", "auditor", "Europe/London", ""),
  };
}

std::vector<store::ProfileRow> DemoProfiles() {
  store::ProfileRow admin;
  admin.id = "admin";
  admin.name = "System Administrator";
  admin.system_permissions =
      "view_all_data,modify_all_data,manage_users,manage_policy,view_audit,"
      "export,privacy_operations";
  store::ProfileRow sales;
  sales.id = "sales-rep";
  sales.name = "Sales Rep";
  sales.allowed_ip_ranges = "127.0.0.0/8\n::1/128";
  sales.login_hours = "mon-sun 00:00-24:00";
  sales.login_time_zone = "Europe/London";
  store::ProfileRow manager = sales;
  manager.id = "sales-manager";
  manager.name = "Sales Manager";
  store::ProfileRow contractor;
  contractor.id = "contractor";
  contractor.name = "Contractor";
  contractor.allowed_ip_ranges = "10.0.0.0/8";
  contractor.login_hours = "mon-fri 09:00-17:00";
  contractor.login_time_zone = "Europe/London";
  // Only France: with the demo GeoIP database (scripts/dev.sh) 127.0.0.1 is
  // in Germany and 127.2.x.x in France.
  store::ProfileRow partner;
  partner.id = "eu-partner";
  partner.name = "EU Partner";
  partner.allowed_countries = "FR";
  store::ProfileRow auditor;
  auditor.id = "auditor";
  auditor.name = "Auditor";
  auditor.system_permissions = "view_audit";
  return {admin, manager, sales, contractor, partner, auditor};
}

// Creates the demo profiles and users that do not exist yet (an existing one
// is kept unchanged). Sets `*created` to the ids of the users it created.
absl::Status LoadDemoIdentities(ServerCore& core,
                                std::vector<std::string>* created) {
  store::IdentityStore& store = core.authn->identities();
  for (const store::ProfileRow& p : DemoProfiles()) {
    if (absl::Status s = auth::ValidateProfile(p); !s.ok()) return s;
    absl::Status s = store.CreateProfile(p);
    if (!s.ok() && !absl::IsAlreadyExists(s)) return s;
  }
  for (const DemoUser& u : DemoUsers()) {
    absl::Status s = auth::CreateUserWithPassword(
        store, u.user, core.authn->settings().hash_params, core.clock->Now());
    if (absl::IsAlreadyExists(s)) continue;
    if (!s.ok()) return s;
    created->push_back(u.user.id);
  }
  return absl::OkStatus();
}

// --- Policy --------------------------------------------------------------

constexpr const char* kAllObjects[] = {
    "accounts", "contacts", "leads", "opportunities", "cases", "activities"};

ObjectPermission Grant(const char* object, bool read, bool create, bool edit,
                       bool remove) {
  ObjectPermission p;
  p.set_object(object);
  p.set_read(read);
  p.set_create(create);
  p.set_edit(edit);
  p.set_delete_(remove);
  return p;
}

FieldPermission FieldGrant(const char* object, const char* field, bool read,
                           bool edit) {
  FieldPermission p;
  p.set_object(object);
  p.set_field(field);
  p.set_read(read);
  p.set_edit(edit);
  return p;
}

// A policy object as PolicyStore stores it: body with its name set.
store::PolicyObjectRow Row(absl::string_view kind, const std::string& id,
                           google::protobuf::Message& body, int64_t now) {
  const auto* name = body.GetDescriptor()->FindFieldByName("name");
  if (name != nullptr) {
    body.GetReflection()->SetString(&body, name, absl::StrCat(kind, "/", id));
  }
  return {std::string(kind), id, 1, body.SerializeAsString(), now};
}

bool HasService(const ServerCore& core, const std::string& name) {
  for (const auto& service : core.config.services()) {
    if (service.name() == name) return true;
  }
  return false;
}

std::vector<store::PolicyObjectRow> DemoPolicyObjects(const ServerCore& core,
                                                      int64_t now) {
  std::vector<store::PolicyObjectRow> rows;
  struct RoleSpec {
    const char* id;
    const char* display_name;
    const char* parent;
  };
  for (const RoleSpec& r : {RoleSpec{"ceo", "CEO", ""},
                            RoleSpec{"sales-manager", "Sales Manager", "ceo"},
                            RoleSpec{"sales-rep", "Sales Rep", "sales-manager"},
                            RoleSpec{"support", "Support", "ceo"}}) {
    crm::v1::Role role;
    role.set_display_name(r.display_name);
    if (*r.parent != '\0') role.set_parent(absl::StrCat("roles/", r.parent));
    rows.push_back(Row(store::kRolesKind, r.id, role, now));
  }

  struct DefaultSpec {
    const char* object;
    OrgWideDefault::Access access;
    bool hierarchies;
  };
  for (const DefaultSpec& d :
       {DefaultSpec{"accounts", OrgWideDefault::PRIVATE, true},
        DefaultSpec{"contacts", OrgWideDefault::CONTROLLED_BY_PARENT, false},
        DefaultSpec{"opportunities", OrgWideDefault::CONTROLLED_BY_PARENT,
                    false},
        DefaultSpec{"cases", OrgWideDefault::CONTROLLED_BY_PARENT, false},
        DefaultSpec{"leads", OrgWideDefault::PUBLIC_READ, true},
        DefaultSpec{"activities", OrgWideDefault::PRIVATE, true}}) {
    OrgWideDefault owd;
    owd.set_object(d.object);
    owd.set_internal_access(d.access);
    owd.set_grant_access_using_hierarchies(d.hierarchies);
    rows.push_back(Row(store::kOrgWideDefaultsKind, d.object, owd, now));
  }

  // Administrators: everything, including the sensitive field.
  PermissionSet admin;
  admin.set_display_name("Administrators");
  for (const char* object : kAllObjects) {
    ObjectPermission p = Grant(object, true, true, true, true);
    p.set_view_all(true);
    p.set_modify_all(true);
    *admin.add_object_permissions() = p;
  }
  *admin.add_field_permissions() =
      FieldGrant("contacts", "personal_phone", true, true);
  *admin.add_field_permissions() =
      FieldGrant("contacts", "personal_email", true, true);
  admin.add_assignees("profiles/admin");
  rows.push_back(Row(store::kPermissionSetsKind, "admin", admin, now));

  // Sales (reps and managers): work on their records; the annual revenue of
  // an account is read-only.
  PermissionSet sales;
  sales.set_display_name("Sales");
  for (const char* object : kAllObjects) {
    *sales.add_object_permissions() = Grant(object, true, true, true, false);
  }
  *sales.add_field_permissions() =
      FieldGrant("accounts", "annual_revenue", true, false);
  sales.add_assignees("profiles/sales-rep");
  sales.add_assignees("profiles/sales-manager");
  rows.push_back(Row(store::kPermissionSetsKind, "sales", sales, now));

  // Sales managers on top: the personal phone numbers of contacts, the
  // annual revenue, and deleting their team's deals.
  PermissionSet managers;
  managers.set_display_name("Sales managers");
  *managers.add_object_permissions() =
      Grant("opportunities", true, true, true, true);
  *managers.add_field_permissions() =
      FieldGrant("contacts", "personal_phone", true, true);
  *managers.add_field_permissions() =
      FieldGrant("contacts", "personal_email", true, true);
  *managers.add_field_permissions() =
      FieldGrant("accounts", "annual_revenue", true, true);
  managers.add_assignees("profiles/sales-manager");
  rows.push_back(
      Row(store::kPermissionSetsKind, "sales-managers", managers, now));

  // A service acting for a user gets the intersection of both: the gateways
  // must hold the sensitive field too for managers and admins to see it
  // through them.
  PermissionSet gateways;
  gateways.set_display_name("Gateways: sensitive contact fields");
  *gateways.add_field_permissions() =
      FieldGrant("contacts", "personal_phone", true, true);
  *gateways.add_field_permissions() =
      FieldGrant("contacts", "personal_email", true, true);
  for (const char* service : {"admin-cli", "web-frontend"}) {
    if (HasService(core, service)) {
      gateways.add_assignees(absl::StrCat("services/", service));
    }
  }
  if (gateways.assignees_size() > 0) {
    rows.push_back(Row(store::kPermissionSetsKind, "gateways", gateways, now));
  }

  // Data sources (policy.proto "Data sources"): one per configured demo
  // service, so that every write of the demo has a source. Registering
  // them turns the source rule on: a service writing a field its sources do
  // not list is refused (billing may set an opportunity's stage and amount,
  // not its description).
  struct SourceSpec {
    const char* id;
    const char* display_name;
    crm::v1::DataSourceKind kind;
    const char* service;
    const char* purpose;
    std::vector<std::pair<const char*, std::vector<const char*>>> writes;
  };
  const std::vector<SourceSpec> sources = {
      {"sales-ui", "Sales UI (web front end)", crm::v1::INTERACTIONS,
       "web-frontend",
       "what staff record about customers in calls, emails and meetings",
       {{"accounts", {}}, {"contacts", {}}, {"leads", {}},
        {"opportunities", {}}, {"cases", {}}, {"activities", {}}}},
      {"crmctl", "Staff through crmctl", crm::v1::INTERACTIONS, "admin-cli",
       "what staff record about customers through the command-line tool",
       {{"accounts", {}}, {"contacts", {}}, {"leads", {}},
        {"opportunities", {}}, {"cases", {}}, {"activities", {}}}},
      {"billing", "Billing", crm::v1::ACCOUNTING, "billing",
       "invoicing: the value and stage of deals",
       {{"opportunities", {"stage", "amount", "currency_code", "close_time"}}}},
      {"order-fulfilment", "Order fulfilment", crm::v1::ORDER_FULFILMENT,
       "order-fulfilment", "deliveries and returns logged as activities",
       {{"activities", {}}}},
      {"web-forms", "Web forms", crm::v1::WEB_FORMS, "marketing",
       "contact requests and sign-ups from the public web site",
       {{"leads",
         {"first_name", "last_name", "company", "email", "phone",
          "lead_source", "country", "description"}},
        {"activities", {}}}},
  };
  // The web forms also record consent (a sign-up's opt-in, an
  // unsubscribe's opt-out) of contacts and leads.
  const std::vector<const char*> consent_objects = {"contacts", "leads"};
  for (const SourceSpec& spec : sources) {
    if (!HasService(core, spec.service)) continue;
    crm::v1::DataSource source;
    source.set_display_name(spec.display_name);
    source.set_kind(spec.kind);
    source.set_service(absl::StrCat("services/", spec.service));
    source.set_purpose(spec.purpose);
    for (const auto& [object, fields] : spec.writes) {
      crm::v1::DataSourceWrite* w = source.add_writes();
      w->set_object(object);
      for (const char* f : fields) w->add_fields(f);
    }
    if (std::string(spec.id) == "web-forms") {
      for (const char* object : consent_objects) {
        crm::v1::DataSourceWrite* w = nullptr;
        for (auto& existing : *source.mutable_writes()) {
          if (existing.object() == object) w = &existing;
        }
        if (w == nullptr) w = source.add_writes();
        w->set_object(object);
        w->set_consent(true);
      }
    }
    rows.push_back(Row(store::kDataSourcesKind, spec.id, source, now));
  }

  // crmctl's users who hold manage_policy (alice) may use it through
  // admin-cli: the calling service must hold it too.
  if (HasService(core, "admin-cli")) {
    PermissionSet cli;
    cli.set_display_name("admin-cli: policy administration and audit");
    cli.add_system_permissions(crm::v1::MANAGE_POLICY);
    cli.add_system_permissions(crm::v1::VIEW_AUDIT);
    cli.add_assignees("services/admin-cli");
    rows.push_back(
        Row(store::kPermissionSetsKind, "cli-policy-admin", cli, now));
  }
  return rows;
}

// True if the database holds no permission set (an unconfigured policy).
absl::StatusOr<bool> PolicyIsEmpty(store::Session& session,
                                   store::PolicyStore& store) {
  auto sets = store.ListObjects(session, store::kPermissionSetsKind, "", 1);
  if (!sets.ok()) return sets.status();
  return sets->empty();
}

absl::Status SetRole(store::Session& session, const std::string& user,
                     const std::string& role) {
  return store::Execute(
             session,
             {"UPDATE users SET role_id = ? WHERE id = ?", {role, user}},
             "assigning demo roles")
      .status();
}

// Writes the demo policy (and the roles of the demo users) into a database
// with no permission set, as one policy write: the version is bumped first
// and the result compiled before commit.
absl::Status LoadDemoPolicy(ServerCore& core) {
  store::PolicyStore store(core.database.get());
  bool loaded = false;
  int64_t version = 0;
  absl::Status s = core.database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto empty = PolicyIsEmpty(session, store);
        if (!empty.ok()) return empty.status();
        if (!*empty) return absl::OkStatus();
        auto bumped = store.BumpPolicyVersion(session);
        if (!bumped.ok()) return bumped.status();
        version = *bumped;
        int64_t now = absl::ToUnixMicros(core.clock->Now());
        for (const auto& row : DemoPolicyObjects(core, now)) {
          if (absl::Status i = store.InsertObject(session, row); !i.ok()) {
            return i;
          }
        }
        for (const DemoUser& u : DemoUsers()) {
          if (*u.role == '\0') continue;
          if (absl::Status r = SetRole(session, u.user.id, u.role); !r.ok()) {
            return r;
          }
        }
        auto state = store.LoadState(session);
        if (!state.ok()) return state.status();
        auto compiled = policy::PolicySnapshot::Build(
            *state, core.config.services(), model::SchemaRegistry::Default());
        if (!compiled.ok()) {
          return absl::InternalError(
              absl::StrCat("the demo access policy does not compile: ",
                           compiled.status().message()));
        }
        loaded = true;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (loaded) {
    LogInfo("demo.policy_loaded", {{"version", absl::StrCat(version)}});
  } else {
    LogInfo("demo.policy_skipped",
            {{"reason", "the database already holds permission sets"}});
  }
  return absl::OkStatus();
}

// --- Records -------------------------------------------------------------

// Inserts `message` as a new record with a fixed id, owned by `owner`,
// created and last updated `age` ago.
absl::Status Put(ServerCore& core, store::Session& session,
                 google::protobuf::Message& message, const std::string& id,
                 const std::string& owner,
                 absl::Duration age = absl::ZeroDuration()) {
  const model::ObjectSchema* schema =
      model::SchemaRegistry::Default().FindByMessage(message.GetDescriptor());
  model::Record record = model::RecordFromMessage(*schema, message);
  int64_t now = absl::ToUnixMicros(core.clock->Now() - age);
  record.id = id;
  record.version = 1;
  record.values[schema->FieldIndex("create_time")] = now;
  record.values[schema->FieldIndex("update_time")] = now;
  record.values[schema->FieldIndex("owner")] = owner;
  record.values[schema->FieldIndex("source")] =
      std::string("services/demo-loader");
  return core.records->Insert(session, *schema, record);
}

absl::Status PutAccounts(ServerCore& core, store::Session& session) {
  struct AccountRow {
    const char* id;
    const char* name;
    const char* industry;
    const char* city;
    const char* country;
    int64_t employees;
    double revenue;
    const char* owner;
  };
  // bob: acme, initech; frank: globex (shared with bob), soylent; erin (their
  // manager): duff; alice (above erin): umbrella.
  const AccountRow rows[] = {
      {"acme", "Acme Ltd", "Manufacturing", "Manchester", "GB", 1200, 2.1e8,
       "bob"},
      {"globex", "Globex Corporation", "Energy", "Springfield", "US", 5400,
       9.5e8, "frank"},
      {"initech", "Initech", "Software", "Austin", "US", 310, 4.2e7, "bob"},
      {"umbrella", "Umbrella Pharma", "Healthcare", "Berlin", "DE", 8800, 3.3e9,
       "alice"},
      {"soylent", "Soylent Foods", "Retail", "Lyon", "FR", 2300, 6.1e8,
       "frank"},
      {"duff", "Duff Stores", "Retail", "Leeds", "GB", 640, 8.8e7, "erin"},
  };
  for (const auto& row : rows) {
    crm::v1::Account a;
    a.set_display_name(row.name);
    a.set_industry(row.industry);
    a.set_billing_city(row.city);
    a.set_billing_country(row.country);
    a.set_employee_count(row.employees);
    a.set_annual_revenue(row.revenue);
    a.set_website(absl::StrCat("https://", row.id, ".example"));
    if (absl::Status r =
            Put(core, session, a, row.id, absl::StrCat("users/", row.owner));
        !r.ok()) {
      return r;
    }
  }
  // frank shares Globex with bob (read only).
  store::PolicyStore policy(core.database.get());
  return policy.InsertShare(
      session,
      {"demo-globex-bob", "accounts", "globex", "users/bob", store::kShareRead,
       "users/frank", absl::ToUnixMicros(core.clock->Now())});
}

absl::Status PutOtherRecords(ServerCore& core, store::Session& session) {
  const char* people[][5] = {
      {"ada", "Ada", "Lovelace", "acme", "bob"},
      {"grace", "Grace", "Hopper", "globex", "frank"},
      {"alan", "Alan", "Turing", "initech", "bob"},
      {"katherine", "Katherine", "Johnson", "umbrella", "alice"},
      {"edsger", "Edsger", "Dijkstra", "soylent", "frank"},
  };
  for (const auto& p : people) {
    crm::v1::Contact c;
    c.set_first_name(p[1]);
    c.set_last_name(p[2]);
    c.set_email(absl::StrCat(p[0], "@", p[3], ".example"));
    c.set_account(absl::StrCat("accounts/", p[3]));
    c.set_title("Head of Purchasing");
    c.set_personal_phone("+44 7700 900123");
    c.set_personal_email(absl::StrCat(p[0], "@home.example"));
    if (absl::Status r =
            Put(core, session, c, p[0], absl::StrCat("users/", p[4]));
        !r.ok()) {
      return r;
    }
  }
  // Consent (crm/v1/consent_service.proto): Ada and Grace signed up for
  // marketing e-mails on the web site, Alan for post; Katherine and Edsger
  // never said (unknown). Grace does not want marketing calls. The
  // campaigns service (purpose marketing) sees Ada, Grace and Alan.
  const char* consents[][4] = {
      {"ada", "email", "marketing", store::kOptedIn},
      {"grace", "email", "marketing", store::kOptedIn},
      {"grace", "phone", "marketing", store::kOptedOut},
      {"alan", "post", "marketing", store::kOptedIn},
      {"alan", "email", "service", store::kOptedIn},
  };
  for (const auto& c : consents) {
    store::ConsentRow row;
    row.channel = c[1];
    row.purpose = c[2];
    row.state = c[3];
    row.source = "dataSources/web-forms";
    row.service = "services/marketing";
    row.actor = "services/marketing";
    row.updated_at = absl::ToUnixMicros(core.clock->Now());
    auto set = store::ConsentStore::Set(session, "contacts", c[0], 0,
                                        store::kUnknownConsent, row);
    if (!set.ok()) return set.status();
  }
  crm::v1::Opportunity o;
  o.set_display_name("Acme: 500 widgets");
  o.set_account("accounts/acme");
  o.set_stage(crm::v1::Opportunity::PROPOSAL);
  o.set_amount(125000);
  o.set_currency_code("GBP");
  o.set_probability(60);
  if (absl::Status r = Put(core, session, o, "acme-widgets", "users/bob");
      !r.ok()) {
    return r;
  }
  crm::v1::Case k;
  k.set_subject("Late delivery of order 1042");
  k.set_account("accounts/globex");
  k.set_contact("contacts/grace");
  k.set_status(crm::v1::Case::WORKING);
  k.set_priority(crm::v1::Case::HIGH);
  k.set_origin("email");
  if (absl::Status r = Put(core, session, k, "globex-1042", "users/frank");
      !r.ok()) {
    return r;
  }
  crm::v1::Activity act;
  act.set_kind(crm::v1::Activity::CALL);
  act.set_subject("Discussed delivery dates");
  act.set_regarding("cases/globex-1042");
  act.set_direction(crm::v1::Activity::OUTBOUND);
  act.set_duration_seconds(540);
  if (absl::Status r = Put(core, session, act, "call-1", "users/frank");
      !r.ok()) {
    return r;
  }
  // A call with Edsger (a subject request's related record).
  crm::v1::Activity call;
  call.set_kind(crm::v1::Activity::CALL);
  call.set_subject("Edsger asked about volume pricing");
  call.set_regarding("contacts/edsger");
  call.set_direction(crm::v1::Activity::INBOUND);
  call.set_duration_seconds(300);
  if (absl::Status r = Put(core, session, call, "call-2", "users/frank");
      !r.ok()) {
    return r;
  }
  crm::v1::Lead lead;
  lead.set_first_name("Margaret");
  lead.set_email("margaret@apollo.example");
  lead.set_last_name("Hamilton");
  lead.set_company("Apollo Systems");
  lead.set_status(crm::v1::Lead::NEW);
  lead.set_lead_source("web form");
  lead.set_country("US");
  if (absl::Status r =
          Put(core, session, lead, "hamilton", "services/web-frontend");
      !r.ok()) {
    return r;
  }
  // A lead nobody has touched for three years: the retention rule
  // "stale-leads" (dev.textproto) anonymizes it.
  crm::v1::Lead stale;
  stale.set_first_name("Charles");
  stale.set_last_name("Babbage");
  stale.set_company("Difference Engines Ltd");
  stale.set_email("charles@engines.example");
  stale.set_status(crm::v1::Lead::UNQUALIFIED);
  stale.set_lead_source("trade show");
  return Put(core, session, stale, "babbage", "services/web-frontend",
             absl::Hours(24 * 365 * 3));
}

// The records, only into a database with no accounts.
absl::Status LoadDemoRecords(ServerCore& core) {
  const model::ObjectSchema* accounts =
      model::SchemaRegistry::Default().Find("accounts");
  int64_t existing = 0;
  absl::Status s = core.database->WithSession([&](store::Session& session) {
    auto n = core.records->Count(session, *accounts, {});
    if (!n.ok()) return n.status();
    existing = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (existing > 0) {
    LogInfo("demo.skipped", {{"reason", "database already holds accounts"}});
    return absl::OkStatus();
  }
  s = core.database->InTransaction([&](store::Session& session) {
    if (absl::Status a = PutAccounts(core, session); !a.ok()) return a;
    return PutOtherRecords(core, session);
  });
  if (s.ok()) LogInfo("demo.loaded");
  return s;
}

}  // namespace

absl::Status LoadDemoOrganisation(ServerCore& core) {
  std::vector<std::string> new_users;
  if (absl::Status s = LoadDemoIdentities(core, &new_users); !s.ok()) return s;
  if (!new_users.empty()) {
    LogInfo("demo.identities_loaded",
            {{"users", absl::StrJoin(new_users, ", ")}});
  }
  if (absl::Status s = LoadDemoPolicy(core); !s.ok()) return s;
  return LoadDemoRecords(core);
}

}  // namespace crm::server
