#include "bench/bench_support.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/unprotected_read_service.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "server/server_core.h"
#include "server/shadow_policy.h"
#include "store/policy_store.h"
#include "store/record_store.h"
#include "store/statement.h"

namespace crm::bench {
namespace {

constexpr int kSeedBatch = 1000;

const std::vector<std::string>& Countries() {
  static const auto* countries =
      new std::vector<std::string>{"DE", "FR", "US", "GB", "JP", "BR", "IN"};
  return *countries;
}

}  // namespace

const std::vector<std::string>& Industries() {
  static const auto* industries = new std::vector<std::string>{
      "Retail",  "Banking", "Energy",    "Software", "Health",
      "Telecom", "Media",   "Transport", "Farming",  "Insurance"};
  return *industries;
}

crm::v1::Account SeedAccount(int i) {
  crm::v1::Account a;
  a.set_display_name(absl::StrCat("Account ", i));
  a.set_industry(Industries()[i % Industries().size()]);
  a.set_website(absl::StrCat("https://account-", i, ".example.com"));
  a.set_phone(absl::StrCat("+49 30 ", 1000000 + i));
  a.set_billing_city(absl::StrCat("City ", i % 97));
  a.set_billing_country(Countries()[i % Countries().size()]);
  a.set_employee_count(10 + (i * 37) % 5000);
  a.set_annual_revenue(1000.0 * ((i * 7919) % 100000));
  a.set_description(absl::StrCat(
      "Seeded benchmark account number ", i,
      ". A typical short description of the customer's business, its "
      "history with us, and the people to talk to."));
  return a;
}

crm::v1::Contact SeedContact(int i) {
  crm::v1::Contact c;
  c.set_first_name(absl::StrCat("Person", i));
  c.set_last_name(absl::StrCat("Contact ", i));
  c.set_email(absl::StrCat("person", i, "@account-", i, ".example.com"));
  c.set_title("Head of Purchasing");
  c.set_mailing_city(absl::StrCat("City ", i % 97));
  c.set_mailing_country(Countries()[i % Countries().size()]);
  c.set_personal_phone(absl::StrCat("+49 170 ", 1000000 + i));
  c.set_personal_email(absl::StrCat("person", i, "@home.example"));
  return c;
}

namespace {

// SeededServerOptions::contacts: the contacts, inserted through the
// server's record store (so the sensitive values are encrypted as the API
// would), the plain ones' two values then stored in plaintext, and
// admin-cli's grant to read them through the API.
absl::Status SeedContacts(testing::TestServer& server, int count,
                          std::vector<std::string>* plain,
                          std::vector<std::string>* encrypted) {
  const records::Deps deps = server.server().core().RecordDeps();
  const model::ObjectSchema* schema =
      model::SchemaRegistry::Default().Find("contacts");
  const int create_time = schema->FieldIndex("create_time");
  const int update_time = schema->FieldIndex("update_time");
  const int owner = schema->FieldIndex("owner");
  const int source = schema->FieldIndex("source");
  const int64_t now = absl::ToUnixMicros(absl::Now());
  for (int first = 0; first < count; first += kSeedBatch / 2) {
    const int last = std::min(count, first + kSeedBatch / 2);
    std::vector<model::Record> batch;
    for (int i = first; i < last; ++i) {
      for (bool enc : {false, true}) {
        model::Record r = model::RecordFromMessage(*schema, SeedContact(i));
        r.id = absl::StrCat(enc ? "enc" : "plain", i);
        r.version = 1;
        r.values[create_time] = now;
        r.values[update_time] = now;
        r.values[owner] = std::string("services/admin-cli");
        r.values[source] = std::string("services/admin-cli");
        batch.push_back(std::move(r));
      }
    }
    absl::Status s = deps.database->InTransaction([&](store::Session& session) {
      for (const model::Record& r : batch) {
        if (absl::Status s = deps.records->Insert(session, *schema, r);
            !s.ok()) {
          return s;
        }
        if (absl::StartsWith(r.id, "enc")) continue;
        // As a database from before the fields were encrypted holds them
        // (store/field_encryption.h: read as they are).
        const auto& phone = std::get<std::string>(
            r.values[schema->FieldIndex("personal_phone")]);
        const auto& email = std::get<std::string>(
            r.values[schema->FieldIndex("personal_email")]);
        auto n = store::Execute(
            session,
            {"UPDATE contacts SET personal_phone = ?, personal_email = ? "
             "WHERE id = ?",
             {phone, email, r.id}},
            "storing a seeded contact's values in plaintext");
        if (!n.ok()) return n.status();
        if (*n != 1) return absl::InternalError("seeding: contact not found");
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (const model::Record& r : batch) {
      (absl::StartsWith(r.id, "enc") ? encrypted : plain)
          ->push_back(schema->ResourceName(r.id));
    }
  }
  crm::v1::CreatePolicyObjectRequest req;
  req.set_id("bench-sensitive-contacts");
  auto* set = req.mutable_object()->mutable_permission_set();
  set->set_display_name("crm_load: admin-cli reads the sensitive contact fields");
  for (const char* field : {"personal_phone", "personal_email"}) {
    auto* f = set->add_field_permissions();
    f->set_object("contacts");
    f->set_field(field);
    f->set_read(true);
  }
  set->add_assignees("services/admin-cli");
  auto client = server.Client("admin-cli");
  auto ctx = client->NewContext();
  crm::v1::PolicyObject created;
  grpc::Status g =
      client->policy_admin().CreatePolicyObject(ctx.get(), req, &created);
  if (!g.ok()) {
    return absl::InternalError(absl::StrCat(
        "granting admin-cli the sensitive contact fields: ", g.error_message()));
  }
  // The comparison is void unless a Get returns both values of each kind.
  for (const std::vector<std::string>* names : {plain, encrypted}) {
    if (names->empty()) continue;
    crm::v1::GetContactRequest get;
    get.set_name(names->front());
    crm::v1::Contact got;
    ctx = client->NewContext();
    g = client->contacts().GetContact(ctx.get(), get, &got);
    const crm::v1::Contact want = SeedContact(0);
    if (!g.ok() || got.personal_phone() != want.personal_phone() ||
        got.personal_email() != want.personal_email()) {
      return absl::InternalError(absl::StrCat(
          "seeded contact ", get.name(), " does not read back with its two "
          "sensitive values: ", g.ok() ? "fields missing" : g.error_message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SeededServer>> SeededServer::Start(
    testing::Backend backend, int accounts, int pool_size) {
  SeededServerOptions options;
  options.pool_size = pool_size;
  return Start(backend, accounts, options);
}

SeededServer::~SeededServer() {
  server_.reset();
  if (!spool_dir_.empty()) std::filesystem::remove_all(spool_dir_);
}

absl::StatusOr<std::unique_ptr<SeededServer>> SeededServer::Start(
    testing::Backend backend, int accounts,
    const SeededServerOptions& seeded) {
  testing::TestServerOptions options{.backend = backend};
  std::string spool_dir;
  if (seeded.audit_spool) {
    std::string pattern = "/tmp/crm-bench-spool-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError("cannot create a spool directory in /tmp");
    }
    spool_dir = pattern;
  }
  options.customize = [seeded, spool_dir](crm::internal::ServerConfig& config) {
    if (!spool_dir.empty()) config.mutable_audit()->set_spool_dir(spool_dir);
    if (seeded.pool_size > 0) config.set_database_pool_size(seeded.pool_size);
    if (seeded.metrics) {
      config.mutable_metrics()->set_listen_address("127.0.0.1:0");
    }
    for (const auto& [collection, reads] : seeded.audit_reads) {
      (*config.mutable_audit()->mutable_reads())[collection] = reads;
    }
    // To grant itself the sensitive contact fields (SeedContacts).
    if (seeded.contacts > 0) testing::GrantManagePolicy(config);
  };
  if (seeded.unprotected_read) {
    options.extra_services.push_back(UnprotectedReadServiceFactory());
  }
  auto ts = testing::TestServer::Start(std::move(options));
  if (!ts.ok()) return ts.status();
  std::unique_ptr<SeededServer> out(new SeededServer());
  out->server_ = *std::move(ts);
  out->spool_dir_ = spool_dir;
  const records::Deps deps = out->record_deps();
  const model::ObjectSchema* schema =
      model::SchemaRegistry::Default().Find("accounts");
  const int create_time = schema->FieldIndex("create_time");
  const int update_time = schema->FieldIndex("update_time");
  const int owner = schema->FieldIndex("owner");
  const int source = schema->FieldIndex("source");
  const int64_t start = absl::ToUnixMicros(absl::Now()) -
                        int64_t{accounts} * 1000000;  // 1 s apart, in the past
  out->names_.reserve(accounts);
  for (int first = 0; first < accounts; first += kSeedBatch) {
    const int last = std::min(accounts, first + kSeedBatch);
    std::vector<model::Record> batch;
    for (int i = first; i < last; ++i) {
      model::Record r = model::RecordFromMessage(*schema, SeedAccount(i));
      r.id = absl::StrCat("bench", i);
      r.version = 1;
      r.values[create_time] = start + int64_t{i} * 1000000;
      r.values[update_time] = start + int64_t{i} * 1000000;
      r.values[owner] = std::string("services/admin-cli");
      r.values[source] = std::string("services/admin-cli");
      batch.push_back(std::move(r));
    }
    absl::Status s = deps.database->InTransaction([&](store::Session& session) {
      for (const model::Record& r : batch) {
        if (absl::Status s = deps.records->Insert(session, *schema, r);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    for (const model::Record& r : batch) {
      out->names_.push_back(schema->ResourceName(r.id));
    }
  }
  if (seeded.contacts > 0) {
    if (absl::Status s =
            SeedContacts(*out->server_, seeded.contacts, &out->plain_contacts_,
                         &out->encrypted_contacts_);
        !s.ok()) {
      return s;
    }
  }
  if (seeded.shadow) {
    server::ServerCore& core = out->server_->server().core();
    crm::v1::PolicyBundleFiles files;
    files.mutable_files()->insert(
        {"orgWideDefaults/accounts.textproto",
         "object: \"accounts\"\ninternal_access: PUBLIC_READ\n"});
    store::ShadowPolicyRow row;
    row.active = true;
    row.message = "crm_load: get_shadow";
    row.bundle = files.SerializeAsString();
    store::PolicyStore policies(core.database.get());
    absl::Status s = core.database->InTransaction([&](store::Session& session) {
      return policies.PutShadow(session, row).status();
    });
    if (!s.ok()) return s;
    if (absl::Status r = core.shadow->Refresh(/*force=*/true); !r.ok()) {
      return r;
    }
    if (core.shadow->CandidateFor(*core.policy->Current()).candidate ==
        nullptr) {
      crm::v1::ShadowPolicyStatus status;
      core.shadow->Describe(&status);
      return absl::InternalError(absl::StrCat(
          "the shadow policy is not evaluated: ", status.compile_error()));
    }
  }
  return out;
}

records::Deps SeededServer::record_deps() const {
  return server_->server().core().RecordDeps();
}

policy::Evaluator SeededServer::EvaluatorFor(
    const policy::Principal& principal) const {
  return policy::Evaluator(server_->server().core().policy->Current(),
                           principal);
}

absl::StatusOr<std::vector<std::string>> SeedThroughApi(
    client::CrmClient& client, int count) {
  std::vector<std::string> names;
  names.reserve(count);
  for (int i = 0; i < count; ++i) {
    crm::v1::CreateAccountRequest req;
    *req.mutable_account() = SeedAccount(i);
    crm::v1::Account created;
    auto ctx = client.NewContext();
    grpc::Status s = client.accounts().CreateAccount(ctx.get(), req, &created);
    if (!s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("seeding account ", i, " through CreateAccount: ",
                       s.error_message(), " (code ", s.error_code(), ")"));
    }
    names.push_back(created.name());
  }
  return names;
}

void LatencySamples::Append(const LatencySamples& other) {
  ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end());
  sorted_ = false;
}

int64_t LatencySamples::Quantile(double q) {
  if (ns_.empty()) return 0;
  if (!sorted_) {
    std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
  }
  q = std::clamp(q, 0.0, 1.0);
  size_t rank = static_cast<size_t>(q * static_cast<double>(ns_.size()));
  if (rank >= ns_.size()) rank = ns_.size() - 1;
  return ns_[rank];
}

int64_t LatencySamples::Max() { return Quantile(1.0); }

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int out = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &out)) return fallback;
  return out;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace crm::bench
