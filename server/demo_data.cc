#include "server/demo_data.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/authenticator.h"
#include "auth/profile_restrictions.h"
#include "crm/v1/resources.pb.h"
#include "model/record.h"
#include "server/log.h"
#include "store/policy_store.h"
#include "server/request_context.h"
#include "store/identity_store.h"

namespace crm::server {
namespace {

// Inserts `message` as a new record with a fixed id, owned by `owner`.
absl::Status Put(ServerCore& core, store::Session& session,
                 google::protobuf::Message& message, const std::string& id,
                 const std::string& owner) {
  const model::ObjectSchema* schema =
      model::SchemaRegistry::Default().FindByMessage(message.GetDescriptor());
  model::Record record = model::RecordFromMessage(*schema, message);
  int64_t now = absl::ToUnixMicros(core.clock->Now());
  record.id = id;
  record.version = 1;
  record.values[schema->FieldIndex("create_time")] = now;
  record.values[schema->FieldIndex("update_time")] = now;
  record.values[schema->FieldIndex("owner")] = owner;
  record.values[schema->FieldIndex("source")] = std::string("services/demo-loader");
  return core.records->Insert(session, *schema, record);
}

// Profiles and users of the demo organisation, loaded unless the database
// already has the System Administrator profile. Demo passwords (documented
// in the README): alice/alice-demo-pw, bob/bob-demo-pw, carol/carol-demo-pw.
absl::Status LoadDemoIdentities(ServerCore& core) {
  store::IdentityStore& store = core.authn->identities();
  auto existing = store.FindUserByUsername("alice");
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return absl::OkStatus();
  store::ProfileRow admin;
  admin.id = "admin";
  admin.name = "System Administrator";
  admin.system_permissions =
      "view_all_data,modify_all_data,manage_users,manage_policy,view_audit,"
      "export";
  store::ProfileRow sales;
  sales.id = "sales-rep";
  sales.name = "Sales Rep";
  sales.allowed_ip_ranges = "127.0.0.0/8\n::1/128";
  sales.login_hours = "mon-sun 00:00-24:00";
  sales.login_time_zone = "Europe/London";
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
  for (const store::ProfileRow* p : {&admin, &sales, &contractor, &partner}) {
    if (absl::Status s = auth::ValidateProfile(*p); !s.ok()) return s;
    if (absl::Status s = store.CreateProfile(*p); !s.ok()) return s;
  }
  const auth::NewUser users[] = {
      {"alice", "alice", "Alice Admin", "alice-demo-pw", "admin",
       "Europe/London", true},
      {"bob", "bob", "Bob Seller", "bob-demo-pw", "sales-rep", "Europe/London",
       true},
      {"carol", "carol", "Carol Contractor", "carol-demo-pw", "contractor",
       "Europe/Paris", true},
      {"dave", "dave", "Dave Partner", "dave-demo-pw", "eu-partner",
       "Europe/Paris", true},
  };
  for (const auth::NewUser& u : users) {
    absl::Status s = auth::CreateUserWithPassword(
        store, u, core.authn->settings().hash_params, core.clock->Now());
    if (!s.ok()) return s;
  }
  // Users are part of the compiled policy: bump its version so every server
  // (this one included) reloads it within its refresh interval.
  store::PolicyStore policy_store(core.database.get());
  absl::Status bumped = core.database->InTransaction([&](store::Session& s) {
    return policy_store.BumpPolicyVersion(s).status();
  });
  if (!bumped.ok()) return bumped;
  LogInfo("demo.identities_loaded", {{"users", "alice, bob, carol, dave"}});
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadDemoOrganisation(ServerCore& core) {
  if (absl::Status s = LoadDemoIdentities(core); !s.ok()) return s;
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
  s = core.database->InTransaction([&](store::Session& session) -> absl::Status {
    struct AccountRow {
      const char* id;
      const char* name;
      const char* industry;
      const char* city;
      const char* country;
      int64_t employees;
    };
    const AccountRow rows[] = {
        {"acme", "Acme Ltd", "Manufacturing", "Manchester", "GB", 1200},
        {"globex", "Globex Corporation", "Energy", "Springfield", "US", 5400},
        {"initech", "Initech", "Software", "Austin", "US", 310},
        {"umbrella", "Umbrella Pharma", "Healthcare", "Berlin", "DE", 8800},
        {"soylent", "Soylent Foods", "Retail", "Lyon", "FR", 2300},
    };
    for (const auto& row : rows) {
      crm::v1::Account a;
      a.set_display_name(row.name);
      a.set_industry(row.industry);
      a.set_billing_city(row.city);
      a.set_billing_country(row.country);
      a.set_employee_count(row.employees);
      a.set_website(absl::StrCat("https://", row.id, ".example"));
      if (absl::Status r = Put(core, session, a, row.id, "services/admin-cli");
          !r.ok()) {
        return r;
      }
    }
    const char* people[][4] = {
        {"ada", "Ada", "Lovelace", "acme"},
        {"grace", "Grace", "Hopper", "globex"},
        {"alan", "Alan", "Turing", "initech"},
        {"katherine", "Katherine", "Johnson", "umbrella"},
        {"edsger", "Edsger", "Dijkstra", "soylent"},
    };
    for (const auto& p : people) {
      crm::v1::Contact c;
      c.set_first_name(p[1]);
      c.set_last_name(p[2]);
      c.set_email(absl::StrCat(p[0], "@", p[3], ".example"));
      c.set_account(absl::StrCat("accounts/", p[3]));
      c.set_title("Head of Purchasing");
      c.set_personal_phone("+44 7700 900123");
      if (absl::Status r = Put(core, session, c, p[0], "services/admin-cli");
          !r.ok()) {
        return r;
      }
    }
    crm::v1::Opportunity o;
    o.set_display_name("Acme: 500 widgets");
    o.set_account("accounts/acme");
    o.set_stage(crm::v1::Opportunity::PROPOSAL);
    o.set_amount(125000);
    o.set_currency_code("GBP");
    o.set_probability(60);
    if (absl::Status r = Put(core, session, o, "acme-widgets", "services/admin-cli");
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
    if (absl::Status r = Put(core, session, k, "globex-1042", "services/admin-cli");
        !r.ok()) {
      return r;
    }
    crm::v1::Activity act;
    act.set_kind(crm::v1::Activity::CALL);
    act.set_subject("Discussed delivery dates");
    act.set_regarding("cases/globex-1042");
    act.set_direction(crm::v1::Activity::OUTBOUND);
    act.set_duration_seconds(540);
    if (absl::Status r = Put(core, session, act, "call-1", "services/admin-cli");
        !r.ok()) {
      return r;
    }
    crm::v1::Lead lead;
    lead.set_first_name("Margaret");
    lead.set_last_name("Hamilton");
    lead.set_company("Apollo Systems");
    lead.set_status(crm::v1::Lead::NEW);
    lead.set_lead_source("web form");
    lead.set_country("US");
    return Put(core, session, lead, "hamilton", "services/web-frontend");
  });
  if (s.ok()) LogInfo("demo.loaded");
  return s;
}

}  // namespace crm::server
