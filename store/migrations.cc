#include "store/migrations.h"

#include <chrono>
#include <cstdint>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "store/statement.h"

namespace crm::store {
namespace {

// Key of the PostgreSQL advisory lock that serialises migrations ("crm mig").
constexpr int64_t kMigrationLockKey = 0x63726d206d6967;

// Migration 1: the six resource tables, per model/object_schema.h.
// Enum columns default to the enum's zero value name, like proto3.
constexpr char kMigration1[] = R"sql(
CREATE TABLE accounts (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  display_name {text} NOT NULL DEFAULT '',
  industry {text} NOT NULL DEFAULT '',
  website {text} NOT NULL DEFAULT '',
  phone {text} NOT NULL DEFAULT '',
  billing_city {text} NOT NULL DEFAULT '',
  billing_country {text} NOT NULL DEFAULT '',
  employee_count BIGINT NOT NULL DEFAULT 0,
  annual_revenue DOUBLE PRECISION NOT NULL DEFAULT 0,
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX accounts_create_time_idx ON accounts (create_time, id);
CREATE INDEX accounts_update_time_idx ON accounts (update_time, id);
CREATE INDEX accounts_owner_idx ON accounts (owner);

CREATE TABLE contacts (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  first_name {text} NOT NULL DEFAULT '',
  last_name {text} NOT NULL DEFAULT '',
  email {text} NOT NULL DEFAULT '',
  phone {text} NOT NULL DEFAULT '',
  title {text} NOT NULL DEFAULT '',
  account {text} NOT NULL DEFAULT '',
  mailing_city {text} NOT NULL DEFAULT '',
  mailing_country {text} NOT NULL DEFAULT '',
  personal_phone {text} NOT NULL DEFAULT '',
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX contacts_create_time_idx ON contacts (create_time, id);
CREATE INDEX contacts_update_time_idx ON contacts (update_time, id);
CREATE INDEX contacts_owner_idx ON contacts (owner);
CREATE INDEX contacts_account_idx ON contacts (account);

CREATE TABLE leads (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  first_name {text} NOT NULL DEFAULT '',
  last_name {text} NOT NULL DEFAULT '',
  company {text} NOT NULL DEFAULT '',
  email {text} NOT NULL DEFAULT '',
  phone {text} NOT NULL DEFAULT '',
  status {text} NOT NULL DEFAULT 'STATUS_UNSPECIFIED',
  lead_source {text} NOT NULL DEFAULT '',
  country {text} NOT NULL DEFAULT '',
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX leads_create_time_idx ON leads (create_time, id);
CREATE INDEX leads_update_time_idx ON leads (update_time, id);
CREATE INDEX leads_owner_idx ON leads (owner);

CREATE TABLE opportunities (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  display_name {text} NOT NULL DEFAULT '',
  account {text} NOT NULL DEFAULT '',
  stage {text} NOT NULL DEFAULT 'STAGE_UNSPECIFIED',
  amount DOUBLE PRECISION NOT NULL DEFAULT 0,
  currency_code {text} NOT NULL DEFAULT '',
  probability BIGINT NOT NULL DEFAULT 0,
  close_time BIGINT NOT NULL DEFAULT 0,
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX opportunities_create_time_idx ON opportunities (create_time, id);
CREATE INDEX opportunities_update_time_idx ON opportunities (update_time, id);
CREATE INDEX opportunities_owner_idx ON opportunities (owner);
CREATE INDEX opportunities_account_idx ON opportunities (account);

CREATE TABLE cases (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  subject {text} NOT NULL DEFAULT '',
  account {text} NOT NULL DEFAULT '',
  contact {text} NOT NULL DEFAULT '',
  status {text} NOT NULL DEFAULT 'STATUS_UNSPECIFIED',
  priority {text} NOT NULL DEFAULT 'PRIORITY_UNSPECIFIED',
  origin {text} NOT NULL DEFAULT '',
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX cases_create_time_idx ON cases (create_time, id);
CREATE INDEX cases_update_time_idx ON cases (update_time, id);
CREATE INDEX cases_owner_idx ON cases (owner);
CREATE INDEX cases_account_idx ON cases (account);
CREATE INDEX cases_contact_idx ON cases (contact);

CREATE TABLE activities (
  id {text} PRIMARY KEY,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0,
  owner {text} NOT NULL DEFAULT '',
  source {text} NOT NULL DEFAULT '',
  kind {text} NOT NULL DEFAULT 'KIND_UNSPECIFIED',
  subject {text} NOT NULL DEFAULT '',
  regarding {text} NOT NULL DEFAULT '',
  direction {text} NOT NULL DEFAULT 'DIRECTION_UNSPECIFIED',
  occur_time BIGINT NOT NULL DEFAULT 0,
  duration_seconds BIGINT NOT NULL DEFAULT 0,
  description {text} NOT NULL DEFAULT ''
);
CREATE INDEX activities_create_time_idx ON activities (create_time, id);
CREATE INDEX activities_update_time_idx ON activities (update_time, id);
CREATE INDEX activities_owner_idx ON activities (owner);
CREATE INDEX activities_regarding_idx ON activities (regarding)
)sql";

// Migration 2: identities (issue 3). Profiles carry the login restrictions
// and system permissions of their users; users hold the password hash and
// lock state; sessions hold only the SHA-256 of each bearer token. Times are
// Unix microseconds; users.locked_until 0 means "not locked". List-valued
// columns are plain text (see store/identity_store.h for their formats).
constexpr char kMigration2[] = R"sql(
CREATE TABLE profiles (
  id {text} PRIMARY KEY,
  name {text} NOT NULL UNIQUE,
  allowed_ip_ranges {text} NOT NULL DEFAULT '',
  allowed_countries {text} NOT NULL DEFAULT '',
  login_hours {text} NOT NULL DEFAULT '',
  login_time_zone {text} NOT NULL DEFAULT '',
  system_permissions {text} NOT NULL DEFAULT '',
  version BIGINT NOT NULL
);

CREATE TABLE users (
  id {text} PRIMARY KEY,
  username {text} NOT NULL UNIQUE,
  display_name {text} NOT NULL DEFAULT '',
  active BIGINT NOT NULL DEFAULT 1,
  profile_id {text} NOT NULL REFERENCES profiles (id),
  role_id {text} NOT NULL DEFAULT '',
  time_zone {text} NOT NULL DEFAULT '',
  password_hash {text} NOT NULL DEFAULT '',
  failed_logins BIGINT NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  version BIGINT NOT NULL,
  create_time BIGINT NOT NULL DEFAULT 0,
  update_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX users_profile_id_idx ON users (profile_id);

CREATE TABLE sessions (
  token_hash {text} PRIMARY KEY,
  user_id {text} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  service {text} NOT NULL,
  create_time BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  expire_time BIGINT NOT NULL,
  revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id)
)sql";

// Migration 3: where policy lives (issue 4). policy_objects holds every
// stored policy object (kind = the first name segment, e.g. "roles"; body =
// the serialized crm.v1 message of that kind, see store/policy_store.h);
// policy_version has one row (id 1) whose version is bumped in the same
// transaction as every policy write, so servers sharing the database notice
// a change with one cheap read. record_shares holds manual shares of single
// records; grantee is "users/{id}", "roles/{id}", "roleAndSubordinates/{id}"
// or "groups/{id}"; access 1 = READ, 2 = READ_WRITE.
constexpr char kMigration3[] = R"sql(
CREATE TABLE policy_version (
  id INTEGER PRIMARY KEY,
  version BIGINT NOT NULL
);
INSERT INTO policy_version (id, version) VALUES (1, 1);

CREATE TABLE record_shares (
  id {text} PRIMARY KEY,
  object {text} NOT NULL,
  record_id {text} NOT NULL,
  grantee {text} NOT NULL,
  access BIGINT NOT NULL,
  created_by {text} NOT NULL DEFAULT '',
  create_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX record_shares_record_idx ON record_shares (object, record_id);
CREATE INDEX record_shares_grantee_idx
  ON record_shares (object, grantee, record_id)
)sql";
// policy_objects differs only in the binary type of body: BYTEA / BLOB.
constexpr char kMigration3Postgres[] = R"sql(
CREATE TABLE policy_objects (
  kind {text} NOT NULL,
  id {text} NOT NULL,
  version BIGINT NOT NULL,
  body BYTEA NOT NULL,
  update_time BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, id)
)
)sql";
constexpr char kMigration3Sqlite[] = R"sql(
CREATE TABLE policy_objects (
  kind {text} NOT NULL,
  id {text} NOT NULL,
  version BIGINT NOT NULL,
  body BLOB NOT NULL,
  update_time BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, id)
)
)sql";

// Migration 4: record filters (policy/record_filter.cc) send a manager's
// big owner set as the roles it covers, joined to users by role_id.
constexpr char kMigration4[] = R"sql(
CREATE INDEX users_role_id_idx ON users (role_id)
)sql";

// Migration 5: login throttling that an attacker cannot aim, and sessions
// that die with their user (issue 9; rules in auth/lockout.h and
// store/identity_store.h). login_failures: failed logins per (user, source)
// and the user's last success from that source; login_rates: failure
// budgets ("theoretical arrival time") per scope 'source' or 'user'. Rows
// past expire_time / tat mean nothing and are pruned. users.failed_logins
// and users.locked_until are no longer used (old locks are forgotten) but
// stay, so that the migration only adds. Sessions of users inactive at
// upgrade time are revoked, as a deactivation now does.
constexpr char kMigration5[] = R"sql(
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN user_epoch BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET revoked = 1
  WHERE revoked = 0 AND user_id IN (SELECT id FROM users WHERE active = 0);
CREATE TABLE login_failures (
  user_id {text} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  source {text} NOT NULL,
  failures BIGINT NOT NULL DEFAULT 0,
  last_failure BIGINT NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  last_success BIGINT NOT NULL DEFAULT 0,
  expire_time BIGINT NOT NULL,
  PRIMARY KEY (user_id, source)
);
CREATE INDEX login_failures_expire_time_idx ON login_failures (expire_time);
CREATE TABLE login_rates (
  scope {text} NOT NULL,
  subject {text} NOT NULL,
  tat BIGINT NOT NULL,
  PRIMARY KEY (scope, subject)
);
CREATE INDEX login_rates_tat_idx ON login_rates (tat)
)sql";

// Migration 6: idempotent creates (AIP-155, issue 9). One row per Create
// that carried a request_id, inserted in the record's transaction: who asked
// (service, and user_id or '' for a service acting as itself), the
// collection, the client's request_id, the hex SHA-256 of the request's body,
// the record it created, and when (Unix microseconds; rows older than the
// retention are pruned). See RecordStore::ClaimCreateRequest.
constexpr char kMigration6[] = R"sql(
CREATE TABLE create_requests (
  service {text} NOT NULL,
  user_id {text} NOT NULL,
  object {text} NOT NULL,
  request_id {text} NOT NULL,
  request_hash {text} NOT NULL,
  record_id {text} NOT NULL,
  create_time BIGINT NOT NULL,
  PRIMARY KEY (service, user_id, object, request_id)
);
CREATE INDEX create_requests_create_time_idx ON create_requests (create_time)
)sql";

// Migration 7: the audit trail (crm/v1/audit_service.proto; store/
// audit_store.h). audit_events columns are named as the fields of
// crm.internal.AuditEventColumns (the filter's schema); changes and
// attributes are JSON text. audit_head is one row: the newest sequence and
// hash (the chain head, locked by every append) and the anchor a pruned
// chain starts from. audit_checkpoints holds the signed heads.
constexpr char kMigration7[] = R"sql(
CREATE TABLE audit_events (
  sequence BIGINT PRIMARY KEY,
  time BIGINT NOT NULL,
  request_id {text} NOT NULL DEFAULT '',
  actor_user {text} NOT NULL DEFAULT '',
  actor_service {text} NOT NULL DEFAULT '',
  action {text} NOT NULL,
  resource {text} NOT NULL DEFAULT '',
  outcome {text} NOT NULL,
  reason {text} NOT NULL DEFAULT '',
  client_address {text} NOT NULL DEFAULT '',
  country {text} NOT NULL DEFAULT '',
  changes {text} NOT NULL DEFAULT '',
  attributes {text} NOT NULL DEFAULT '',
  previous_hash {text} NOT NULL,
  hash {text} NOT NULL
);
CREATE INDEX audit_events_time_idx ON audit_events (time, sequence);
CREATE INDEX audit_events_actor_user_idx ON audit_events (actor_user, sequence);
CREATE INDEX audit_events_resource_idx ON audit_events (resource, sequence);
CREATE TABLE audit_head (
  id BIGINT PRIMARY KEY,
  sequence BIGINT NOT NULL,
  hash {text} NOT NULL,
  anchor_sequence BIGINT NOT NULL DEFAULT 0,
  anchor_hash {text} NOT NULL DEFAULT '',
  anchor_time BIGINT NOT NULL DEFAULT 0,
  anchor_key_id {text} NOT NULL DEFAULT '',
  anchor_signature {text} NOT NULL DEFAULT ''
);
INSERT INTO audit_head (id, sequence, hash) VALUES
  (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE audit_checkpoints (
  sequence BIGINT PRIMARY KEY,
  hash {text} NOT NULL,
  time BIGINT NOT NULL,
  key_id {text} NOT NULL,
  signature {text} NOT NULL
)
)sql";

// Migration 8: "one actor's recent events" (ListAuditEvents with
// actor_user = ? AND time >= ?) reads only that window: SQLite, which keeps
// no statistics, otherwise walks the actor's whole history backwards
// through (actor_user, sequence) (bench/README.md, "Audit trail").
constexpr char kMigration8[] = R"sql(
CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_user, time)
)sql";

// Migration 9: the policy's history (store/policy_store.h, "History"): one
// row per policy version with who made it and how; `state` is the policy
// (policy::SerializeBundleState, hex) where it differs from the previous
// version's, else '' and `state_version` names the row that holds it.
constexpr char kMigration9[] = R"sql(
CREATE TABLE policy_history (
  version BIGINT PRIMARY KEY,
  time BIGINT NOT NULL,
  actor_user {text} NOT NULL DEFAULT '',
  actor_service {text} NOT NULL DEFAULT '',
  request_id {text} NOT NULL DEFAULT '',
  method {text} NOT NULL DEFAULT '',
  message {text} NOT NULL DEFAULT '',
  changed {text} NOT NULL DEFAULT '',
  state_version BIGINT NOT NULL,
  state {text} NOT NULL DEFAULT ''
)
)sql";

// Migration 10: the shadow policy (admin_service.proto SetShadowPolicy):
// one row, seeded here, that every write updates (so writers serialise on
// its row lock and the revision only grows). `bundle` is the candidate's
// crm.v1.PolicyBundleFiles, serialized and hex-encoded; '' when inactive.
constexpr char kMigration10[] = R"sql(
CREATE TABLE policy_shadow (
  id INTEGER PRIMARY KEY,
  revision BIGINT NOT NULL,
  active INTEGER NOT NULL,
  prune INTEGER NOT NULL DEFAULT 0,
  time BIGINT NOT NULL DEFAULT 0,
  actor_user {text} NOT NULL DEFAULT '',
  actor_service {text} NOT NULL DEFAULT '',
  message {text} NOT NULL DEFAULT '',
  bundle {text} NOT NULL DEFAULT ''
);
INSERT INTO policy_shadow (id, revision, active) VALUES (1, 0, 0)
)sql";

// Migration 11: encryption at rest (store/field_encryption.h). One row per
// data key, wrapped under the master key named by master_key_id (never the
// master key itself); exactly one is current (the partial unique index).
// created_at: Unix microseconds.
constexpr char kMigration11[] = R"sql(
CREATE TABLE data_keys (
  id {text} PRIMARY KEY,
  wrapped {text} NOT NULL,
  master_key_id {text} NOT NULL,
  created_at BIGINT NOT NULL,
  is_current INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX data_keys_one_current ON data_keys (is_current)
  WHERE is_current = 1
)sql";

// Migration 12: contacts.personal_email (sensitive, encrypted at rest) and
// its blind index (annotations.proto blind_index), indexed for equality
// filters.
constexpr char kMigration12[] = R"sql(
ALTER TABLE contacts ADD COLUMN personal_email {text} NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN personal_email_bidx {text} NOT NULL DEFAULT '';
CREATE INDEX contacts_personal_email_bidx_idx ON contacts (personal_email_bidx)
)sql";

// Migration 13: field provenance (store/provenance_store.h,
// crm.v1.ProvenanceService). field_provenance holds the latest writer of
// each written field of a record; field_history every write, keyed by the
// record version the write produced (unique per record: writes are
// conditional on the version). `value` is the value written as text, only
// for fields that are not sensitive (value_recorded = 1); a sensitive
// field's value is never copied here. Times: Unix microseconds.
constexpr char kMigration13[] = R"sql(
CREATE TABLE field_provenance (
  collection {text} NOT NULL,
  record_id {text} NOT NULL,
  field {text} NOT NULL,
  source {text} NOT NULL,
  service {text} NOT NULL,
  actor {text} NOT NULL,
  request_id {text} NOT NULL DEFAULT '',
  written_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (collection, record_id, field)
);
CREATE TABLE field_history (
  collection {text} NOT NULL,
  record_id {text} NOT NULL,
  version BIGINT NOT NULL,
  field {text} NOT NULL,
  source {text} NOT NULL,
  service {text} NOT NULL,
  actor {text} NOT NULL,
  request_id {text} NOT NULL DEFAULT '',
  written_at BIGINT NOT NULL,
  operation {text} NOT NULL,
  value {text} NOT NULL DEFAULT '',
  value_recorded INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (collection, record_id, version, field)
)
)sql";

// Migration 14: the audit spool's progress (store/audit_spool.h): per spool
// file, the end offset of the last event committed to audit_events, moved
// in the same transaction as the events, so a replay after a crash writes
// every event once.
constexpr char kMigration14[] = R"sql(
CREATE TABLE audit_spool_progress (
  spool_file {text} PRIMARY KEY,
  committed_end BIGINT NOT NULL
)
)sql";

// Migration 15: subject erasure (store/privacy_store.h,
// crm.v1.PrivacyService). erasure_receipts holds each signed receipt (the
// record names and field names erased, never a value); erased_subjects
// maps the keyed pseudonym of every identifier an erasure covered to its
// receipt, so that a second erasure of the same person is a no-op. No
// value of the person is stored: pseudonyms are HMACs under a key derived
// from the master key. retention_runs records each retention run (`run`:
// the caller's encoding of its counts and outcome). Times: Unix
// microseconds.
constexpr char kMigration15[] = R"sql(
CREATE TABLE erasure_receipts (
  id {text} PRIMARY KEY,
  subject {text} NOT NULL,
  erased_at BIGINT NOT NULL,
  receipt {text} NOT NULL
);
CREATE TABLE erased_subjects (
  pseudonym {text} PRIMARY KEY,
  receipt_id {text} NOT NULL
);
CREATE TABLE retention_runs (
  id {text} PRIMARY KEY,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL DEFAULT 0,
  run {text} NOT NULL
);
CREATE INDEX retention_runs_started_idx ON retention_runs (started_at)
)sql";

// Migration 16: consent (store/consent_store.h, crm.v1.ConsentService).
// `consents` holds the current state of each (record, channel, purpose)
// of a consent subject (contacts, leads): "opted-in", "opted-out" or
// "unknown", who recorded it (source: a data source name or the caller),
// the request and time, and a version (the entry's etag). The record
// filter of a purpose-marked principal asks, per row,
//   EXISTS (... WHERE collection = ? AND record_id = <row id>
//            AND purpose = ? AND state = 'opted-in')
// which consents_subject_idx answers from the index alone;
// consents_purpose_idx serves the opposite direction (the opted-in ids of
// one purpose, when the planner drives from them). `consent_history` is
// append-only: one row per change, numbered per record. Times: Unix
// microseconds.
constexpr char kMigration16[] = R"sql(
CREATE TABLE consents (
  collection {text} NOT NULL,
  record_id {text} NOT NULL,
  channel {text} NOT NULL,
  purpose {text} NOT NULL,
  state {text} NOT NULL,
  source {text} NOT NULL,
  service {text} NOT NULL,
  actor {text} NOT NULL,
  request_id {text} NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (collection, record_id, channel, purpose)
);
CREATE INDEX consents_subject_idx ON consents (collection, record_id, purpose, state);
CREATE INDEX consents_purpose_idx ON consents (collection, purpose, state, record_id);
CREATE TABLE consent_history (
  collection {text} NOT NULL,
  record_id {text} NOT NULL,
  sequence BIGINT NOT NULL,
  channel {text} NOT NULL,
  purpose {text} NOT NULL,
  state {text} NOT NULL,
  previous_state {text} NOT NULL,
  source {text} NOT NULL,
  service {text} NOT NULL,
  actor {text} NOT NULL,
  request_id {text} NOT NULL DEFAULT '',
  changed_at BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (collection, record_id, sequence)
)
)sql";

// Migration 17 (SQLite only): audit_events keyed by its rowid. A column
// declared "BIGINT PRIMARY KEY" is, on SQLite, a second b-tree beside the
// table's rowid b-tree; "INTEGER PRIMARY KEY" makes the sequence the rowid
// itself, so an appended event updates five b-trees instead of six (the
// writer's INSERT is most of what an audited read costs: bench/README.md,
// "Audit trail"). The table is rebuilt in one transaction (a copy of every
// event: about 2 s per million on the reference machine); column names,
// types and the indexes are unchanged. PostgreSQL keeps its table (its
// primary key is the one index it needs for the sequence).
constexpr char kMigration17Sqlite[] = R"sql(
CREATE TABLE audit_events_rekeyed (
  sequence INTEGER PRIMARY KEY,
  time BIGINT NOT NULL,
  request_id TEXT NOT NULL DEFAULT '',
  actor_user TEXT NOT NULL DEFAULT '',
  actor_service TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  resource TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  client_address TEXT NOT NULL DEFAULT '',
  country TEXT NOT NULL DEFAULT '',
  changes TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT '',
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_events_rekeyed (sequence, time, request_id, actor_user,
  actor_service, action, resource, outcome, reason, client_address, country,
  changes, attributes, previous_hash, hash)
SELECT sequence, time, request_id, actor_user, actor_service, action,
  resource, outcome, reason, client_address, country, changes, attributes,
  previous_hash, hash FROM audit_events ORDER BY sequence;
DROP TABLE audit_events;
ALTER TABLE audit_events_rekeyed RENAME TO audit_events;
CREATE INDEX audit_events_time_idx ON audit_events (time, sequence);
CREATE INDEX audit_events_actor_user_idx ON audit_events (actor_user, sequence);
CREATE INDEX audit_events_resource_idx ON audit_events (resource, sequence);
CREATE INDEX audit_events_actor_time_idx ON audit_events (actor_user, time)
)sql";

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status RunStatements(Session& session,
                           const std::vector<std::string>& statements,
                           absl::string_view operation) {
  for (const std::string& sql : statements) {
    absl::StatusOr<int64_t> r = Execute(session, {sql, {}}, operation);
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

// Takes the migration lock (PostgreSQL) and creates schema_migrations.
absl::Status Prepare(Session& session) {
  std::vector<std::string> statements;
  if (DialectOf(session) == Dialect::kPostgres) {
    statements.push_back(
        absl::StrCat("SELECT pg_advisory_xact_lock(", kMigrationLockKey, ")"));
  }
  statements.push_back(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY "
      "KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)");
  return RunStatements(session, statements, "preparing schema migrations");
}

absl::StatusOr<int> ReadVersion(Session& session) {
  absl::StatusOr<int64_t> v =
      QueryInt(session, {"SELECT MAX(version) FROM schema_migrations", {}},
               "reading the schema version");
  if (!v.ok()) return v.status();
  return static_cast<int>(*v);
}

int NewestKnownVersion() {
  const auto& all = AllMigrations();
  return all.empty() ? 0 : all.back().version;
}

absl::Status CheckNotNewer(int current) {
  if (current > NewestKnownVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", current,
        " is newer than this binary supports (", NewestKnownVersion(),
        "); run a newer crm server build against this database"));
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "resource tables: accounts, contacts, leads, opportunities, cases, "
          "activities", kMigration1, "", ""},
      {2, "identities: profiles, users, sessions", kMigration2, "", ""},
      {3, "policy: policy_objects, policy_version, record_shares",
       kMigration3, kMigration3Postgres, kMigration3Sqlite},
      {4, "record filters: users by role", kMigration4, "", ""},
      {5, "login throttling and session epochs: login_failures, "
          "login_rates, users.session_epoch, sessions.user_epoch",
       kMigration5, "", ""},
      {6, "idempotent creates: create_requests", kMigration6, "", ""},
      {7, "audit trail: audit_events, audit_head, audit_checkpoints",
       kMigration7, "", ""},
      {8, "audit trail: events by actor and time", kMigration8, "", ""},
      {9, "policy history: policy_history", kMigration9, "", ""},
      {10, "shadow policy: policy_shadow", kMigration10, "", ""},
      {11, "encryption at rest: data_keys", kMigration11, "", ""},
      {12, "contacts.personal_email and its blind index", kMigration12, "",
       ""},
      {13, "provenance: field_provenance, field_history", kMigration13, "",
       ""},
      {14, "audit spool: audit_spool_progress", kMigration14, "", ""},
      {15, "subject requests: erasure_receipts, erased_subjects, "
           "retention_runs",
       kMigration15, "", ""},
      {16, "consent: consents, consent_history", kMigration16, "", ""},
      {17, "audit trail: audit_events keyed by its rowid (SQLite)", "", "",
       kMigration17Sqlite},
  };
  return *migrations;
}

std::vector<std::string> MigrationStatements(const Migration& migration,
                                             Dialect dialect) {
  const std::string text_type =
      dialect == Dialect::kPostgres ? "TEXT COLLATE \"C\"" : "TEXT";
  std::vector<std::string> out;
  for (const std::string* part :
       {&migration.sql_common, dialect == Dialect::kPostgres
                                   ? &migration.sql_postgres
                                   : &migration.sql_sqlite}) {
    std::string expanded =
        absl::StrReplaceAll(*part, {{"{text}", text_type}});
    for (absl::string_view piece : absl::StrSplit(expanded, ';')) {
      piece = absl::StripAsciiWhitespace(piece);
      if (!piece.empty()) out.emplace_back(piece);
    }
  }
  return out;
}

absl::StatusOr<int> CurrentSchemaVersion(Database& db) {
  int version = 0;
  absl::Status s = db.InTransaction([&](Session& session) {
    absl::Status p = Prepare(session);
    if (!p.ok()) return p;
    absl::StatusOr<int> v = ReadVersion(session);
    if (!v.ok()) return v.status();
    version = *v;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return version;
}

absl::Status Migrate(Database& db) {
  return MigrateTo(db, AllMigrations().back().version);
}

absl::Status MigrateTo(Database& db, int version) {
  absl::StatusOr<int> current = CurrentSchemaVersion(db);
  if (!current.ok()) return current.status();
  absl::Status s = CheckNotNewer(*current);
  if (!s.ok()) return s;
  for (const Migration& migration : AllMigrations()) {
    if (migration.version <= *current) continue;
    if (migration.version > version) break;
    s = db.InTransaction([&](Session& session) {
      absl::Status p = Prepare(session);
      if (!p.ok()) return p;
      // Re-read under the lock: another process may have applied it.
      absl::StatusOr<int> v = ReadVersion(session);
      if (!v.ok()) return v.status();
      if (*v >= migration.version) return CheckNotNewer(*v);
      const std::string operation =
          absl::StrCat("applying schema migration ", migration.version, " (",
                       migration.description, ")");
      p = RunStatements(
          session, MigrationStatements(migration, DialectOf(session)),
          operation);
      if (!p.ok()) return p;
      absl::StatusOr<int64_t> r = Execute(
          session,
          {"INSERT INTO schema_migrations (version, description, applied_at) "
           "VALUES (?, ?, ?)",
           {int64_t{migration.version}, migration.description, NowMicros()}},
          operation);
      return r.status();
    });
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

namespace {

// Column name -> (lower-case type, collation) as the database reports them.
struct ColumnInfo {
  std::string type;
  std::string collation;
};

absl::StatusOr<std::map<std::string, ColumnInfo>> TableColumns(
    Session& session, const std::string& table) {
  model::SqlFragment q;
  if (DialectOf(session) == Dialect::kPostgres) {
    q = {"SELECT column_name::text, data_type::text, "
         "COALESCE(collation_name::text, '') FROM information_schema.columns "
         "WHERE table_schema = current_schema() AND table_name = ?",
         {table}};
  } else {
    q = {"SELECT name, type, '' FROM pragma_table_info(?)", {table}};
  }
  absl::StatusOr<std::vector<Row>> rows =
      Query(session, q, absl::StrCat("reading the columns of ", table));
  if (!rows.ok()) return rows.status();
  std::map<std::string, ColumnInfo> out;
  for (const Row& row : *rows) {
    auto text = [&](size_t i) {
      const auto* s = i < row.size() ? std::get_if<std::string>(&row[i])
                                     : nullptr;
      return s != nullptr ? absl::AsciiStrToLower(*s) : std::string();
    };
    out[text(0)] = {text(1), text(2)};
  }
  return out;
}

std::string ExpectedType(model::FieldKind kind) {
  switch (kind) {
    case model::FieldKind::kString:
    case model::FieldKind::kEnum:
      return "text";
    case model::FieldKind::kInt64:
    case model::FieldKind::kBool:
    case model::FieldKind::kTimestamp:
      return "bigint";
    case model::FieldKind::kDouble:
      return "double precision";
  }
  return "";
}

absl::Status CheckColumn(const std::map<std::string, ColumnInfo>& columns,
                         const std::string& table, const std::string& name,
                         const std::string& type, Dialect dialect) {
  auto it = columns.find(name);
  if (it == columns.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema mismatch: table '", table, "' has no column '", name,
        "' (", type, "); the binary's resources.proto has a field the "
        "migrations do not create - add a migration"));
  }
  if (it->second.type != type) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema mismatch: column '", table, ".", name, "' is ",
        it->second.type, " but the mapping needs ", type));
  }
  if (dialect == Dialect::kPostgres && type == "text" &&
      it->second.collation != "c") {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema mismatch: column '", table, ".", name,
        "' must use COLLATE \"C\" (byte order), has '", it->second.collation,
        "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status VerifySchema(Database& db,
                          const model::SchemaRegistry& registry) {
  return db.WithSession([&](Session& session) -> absl::Status {
    for (const model::ObjectSchema* schema : registry.All()) {
      const std::string& table = schema->collection();
      absl::StatusOr<std::map<std::string, ColumnInfo>> columns =
          TableColumns(session, table);
      if (!columns.ok()) return columns.status();
      if (columns->empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "database schema mismatch: table '", table,
            "' does not exist; run the migrations"));
      }
      absl::Status s =
          CheckColumn(*columns, table, "id", "text", DialectOf(session));
      if (s.ok()) {
        s = CheckColumn(*columns, table, "version", "bigint",
                        DialectOf(session));
      }
      for (const model::FieldSchema& field : schema->fields()) {
        if (!s.ok()) break;
        s = CheckColumn(*columns, table, field.name, ExpectedType(field.kind),
                        DialectOf(session));
        if (s.ok() && field.blind_index) {
          s = CheckColumn(*columns, table, model::BlindIndexColumn(field),
                          "text", DialectOf(session));
        }
      }
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

}  // namespace crm::store
