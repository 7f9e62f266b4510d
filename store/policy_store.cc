#include "store/policy_store.h"

#include "store/change_listener.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "crm/v1/policy.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "store/identity_store.h"
#include "store/profile_rows.h"
#include "store/statement.h"

namespace crm::store {
namespace {

using model::SqlFragment;
using model::SqlValue;

std::string Str(const SqlValue& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s != nullptr ? *s : std::string();
}

int64_t Int(const SqlValue& v) {
  const auto* i = std::get_if<int64_t>(&v);
  return i != nullptr ? *i : 0;
}

// The body column as hex text, decoded after reading (SOCI's blob support
// differs per backend; hex text is portable).
std::string BodyColumn(Dialect dialect) {
  return dialect == Dialect::kPostgres ? "encode(body, 'hex')"
                                       : "lower(hex(body))";
}

// The SQL expression writing `body`: on PostgreSQL a bound hex parameter
// decoded by the server; on SQLite (3.40 has no unhex) a blob literal of hex
// digits produced here, which cannot carry anything but bytes.
SqlFragment BodyValue(Dialect dialect, const std::string& body) {
  std::string hex = absl::BytesToHexString(body);
  if (dialect == Dialect::kPostgres) return {"decode(?, 'hex')", {hex}};
  return {absl::StrCat("X'", hex, "'"), {}};
}

absl::StatusOr<std::string> DecodeBody(const std::string& hex) {
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InternalError("policy object body is not hex-encoded");
    }
  }
  if (hex.size() % 2 != 0) {
    return absl::InternalError("policy object body has odd hex length");
  }
  return absl::HexStringToBytes(hex);
}

std::string ObjectColumns(Dialect dialect) {
  return absl::StrCat("kind, id, version, ", BodyColumn(dialect),
                      ", update_time");
}

absl::StatusOr<PolicyObjectRow> ObjectFromRow(const Row& row) {
  PolicyObjectRow out;
  out.kind = Str(row[0]);
  out.id = Str(row[1]);
  out.version = Int(row[2]);
  absl::StatusOr<std::string> body = DecodeBody(Str(row[3]));
  if (!body.ok()) return body.status();
  out.body = *std::move(body);
  out.update_time = Int(row[4]);
  return out;
}

constexpr char kShareColumns[] =
    "id, object, record_id, grantee, access, created_by, create_time";

ShareRow ShareFromRow(const Row& row) {
  ShareRow s;
  s.id = Str(row[0]);
  s.object = Str(row[1]);
  s.record_id = Str(row[2]);
  s.grantee = Str(row[3]);
  s.access = Int(row[4]);
  s.created_by = Str(row[5]);
  s.create_time = Int(row[6]);
  return s;
}

absl::StatusOr<std::vector<ShareRow>> QueryShares(
    Session& session, const SqlFragment& q, absl::string_view op,
    Reuse reuse = Reuse::kOnce) {
  auto rows = Query(session, q, op, reuse);
  if (!rows.ok()) return rows.status();
  std::vector<ShareRow> out;
  out.reserve(rows->size());
  for (const Row& row : *rows) out.push_back(ShareFromRow(row));
  return out;
}

// Parses `row` as the message of its kind, sets its name and etag, and
// appends it to `state`.
absl::Status AddToState(const PolicyObjectRow& row,
                        crm::internal::PolicyState* state) {
  const std::string name = absl::StrCat(row.kind, "/", row.id);
  const std::string etag = model::EtagOf(row.version);
  bool ok = false;
  if (row.kind == kPermissionSetsKind) {
    auto* m = state->add_permission_sets();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else if (row.kind == kOrgWideDefaultsKind) {
    auto* m = state->add_defaults();
    ok = m->ParseFromString(row.body);
    m->set_object(row.id);
    m->set_etag(etag);
  } else if (row.kind == kRolesKind) {
    auto* m = state->add_roles();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else if (row.kind == kGroupsKind) {
    auto* m = state->add_groups();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else if (row.kind == kSharingRulesKind) {
    auto* m = state->add_sharing_rules();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else if (row.kind == kRestrictionRulesKind) {
    auto* m = state->add_restriction_rules();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else if (row.kind == kDataSourcesKind) {
    auto* m = state->add_data_sources();
    ok = m->ParseFromString(row.body);
    m->set_name(name);
    m->set_etag(etag);
  } else {
    return absl::InternalError(absl::StrCat(
        "policy_objects holds unknown kind '", row.kind,
        "' (written by a newer server?); refusing to load a partial policy"));
  }
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("stored policy object ", name, " does not parse"));
  }
  return absl::OkStatus();
}

void AddProfilePermissions(const std::string& csv,
                           crm::internal::PolicyUser* user) {
  for (crm::v1::SystemPermission p : ParseProfilePermissions(csv)) {
    user->add_profile_system_permissions(p);
  }
}

}  // namespace

bool IsPolicyKind(absl::string_view kind) {
  for (absl::string_view k : kPolicyKinds) {
    if (k == kind) return true;
  }
  return false;
}

absl::StatusOr<crm::internal::PolicyState> PolicyStore::LoadState(
    Session& session) {
  crm::internal::PolicyState state;
  auto version = PolicyVersion(session);
  if (!version.ok()) return version.status();
  state.set_version(*version);

  auto rows = Query(session,
                    {absl::StrCat("SELECT ", ObjectColumns(DialectOf(session)),
                                  " FROM policy_objects ORDER BY kind, id"),
                     {}},
                    "loading the policy");
  if (!rows.ok()) return rows.status();
  for (const Row& row : *rows) {
    auto object = ObjectFromRow(row);
    if (!object.ok()) return object.status();
    if (absl::Status s = AddToState(*object, &state); !s.ok()) return s;
  }

  auto users = Query(
      session,
      {"SELECT u.id, u.role_id, u.profile_id, u.active, "
       "COALESCE(p.system_permissions, '') FROM users u "
       "LEFT JOIN profiles p ON p.id = u.profile_id ORDER BY u.id",
       {}},
      "loading users for the policy");
  if (!users.ok()) return users.status();
  for (const Row& row : *users) {
    auto* user = state.add_users();
    user->set_id(Str(row[0]));
    if (std::string role = Str(row[1]); !role.empty()) {
      user->set_role(absl::StrCat("roles/", role));
    }
    if (std::string profile = Str(row[2]); !profile.empty()) {
      user->set_profile(absl::StrCat("profiles/", profile));
    }
    user->set_active(Int(row[3]) != 0);
    AddProfilePermissions(Str(row[4]), user);
  }

  auto profiles = ReadAllProfiles(session);
  if (!profiles.ok()) return profiles.status();
  for (const ProfileRow& profile : *profiles) {
    *state.add_profiles() = ToPolicyProfile(profile);
  }
  return state;
}

absl::StatusOr<crm::internal::PolicyState> PolicyStore::LoadState() {
  crm::internal::PolicyState state;
  absl::Status s = db_->InTransaction([&](Session& session) {
    auto loaded = LoadState(session);
    if (!loaded.ok()) return loaded.status();
    state = *std::move(loaded);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return state;
}

absl::StatusOr<int64_t> PolicyStore::PolicyVersion(Session& session) {
  return QueryInt(session,
                  {"SELECT version FROM policy_version WHERE id = 1", {}},
                  "reading the policy version");
}

absl::StatusOr<int64_t> PolicyStore::PolicyVersion() {
  int64_t version = 0;
  absl::Status s = db_->WithSession([&](Session& session) {
    auto v = PolicyVersion(session);
    if (!v.ok()) return v.status();
    version = *v;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return version;
}

absl::StatusOr<int64_t> PolicyStore::BumpPolicyVersion(Session& session) {
  auto n = Execute(
      session,
      {"UPDATE policy_version SET version = version + 1 WHERE id = 1", {}},
      "bumping the policy version");
  if (!n.ok()) return n.status();
  if (*n != 1) {
    return absl::InternalError(
        "policy_version has no row 1; the database was not migrated "
        "correctly (migration 3)");
  }
  auto version = PolicyVersion(session);
  if (!version.ok()) return version.status();
  // Other servers on the database reload at commit, not at their next poll.
  if (absl::Status s =
          NotifyAtCommit(session, kPolicyChannel, absl::StrCat(*version));
      !s.ok()) {
    return s;
  }
  return version;
}

absl::StatusOr<std::optional<PolicyObjectRow>> PolicyStore::GetObject(
    Session& session, absl::string_view kind, absl::string_view id) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", ObjectColumns(DialectOf(session)),
                    " FROM policy_objects WHERE kind = ? AND id = ?"),
       {std::string(kind), std::string(id)}},
      "reading a policy object");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  auto row = ObjectFromRow(rows->front());
  if (!row.ok()) return row.status();
  return *std::move(row);
}

absl::StatusOr<std::vector<PolicyObjectRow>> PolicyStore::ListObjects(
    Session& session, absl::string_view kind, absl::string_view after_id,
    int limit) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", ObjectColumns(DialectOf(session)),
                    " FROM policy_objects WHERE kind = ? AND id > ? "
                    "ORDER BY id LIMIT ?"),
       {std::string(kind), std::string(after_id), int64_t{limit}}},
      "listing policy objects");
  if (!rows.ok()) return rows.status();
  std::vector<PolicyObjectRow> out;
  for (const Row& r : *rows) {
    auto row = ObjectFromRow(r);
    if (!row.ok()) return row.status();
    out.push_back(*std::move(row));
  }
  return out;
}

absl::Status PolicyStore::InsertObject(Session& session,
                                       const PolicyObjectRow& row) {
  auto existing = GetObject(session, row.kind, row.id);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(
        absl::StrCat(row.kind, "/", row.id, " already exists"));
  }
  SqlFragment q;
  q.Append("INSERT INTO policy_objects (kind, id, version, body, update_time) "
           "VALUES (?, ?, ?, ",
           {row.kind, row.id, row.version});
  q.Append(BodyValue(DialectOf(session), row.body));
  q.Append(", ?)", {row.update_time});
  return Execute(session, q, "writing a policy object").status();
}

absl::StatusOr<bool> PolicyStore::UpdateObjectIfVersion(
    Session& session, absl::string_view kind, absl::string_view id,
    int64_t expected_version, const std::string& body, int64_t update_time) {
  SqlFragment q;
  q.Append("UPDATE policy_objects SET body = ");
  q.Append(BodyValue(DialectOf(session), body));
  q.Append(", version = ?, update_time = ? "
           "WHERE kind = ? AND id = ? AND version = ?",
           {expected_version + 1, update_time, std::string(kind),
            std::string(id), expected_version});
  auto n = Execute(session, q, "updating a policy object");
  if (!n.ok()) return n.status();
  return *n == 1;
}

absl::StatusOr<bool> PolicyStore::DeleteObjectIfVersion(
    Session& session, absl::string_view kind, absl::string_view id,
    int64_t expected_version) {
  auto n = Execute(session,
                   {"DELETE FROM policy_objects WHERE kind = ? AND id = ? AND "
                    "version = ?",
                    {std::string(kind), std::string(id), expected_version}},
                   "deleting a policy object");
  if (!n.ok()) return n.status();
  return *n == 1;
}

namespace {

PolicyHistoryRow HistoryRow(const Row& row) {
  PolicyHistoryRow h;
  h.version = Int(row[0]);
  h.time = Int(row[1]);
  h.actor_user = Str(row[2]);
  h.actor_service = Str(row[3]);
  h.request_id = Str(row[4]);
  h.method = Str(row[5]);
  h.message = Str(row[6]);
  h.changed = absl::StrSplit(Str(row[7]), '\n', absl::SkipEmpty());
  return h;
}

constexpr char kHistoryColumns[] =
    "version, time, actor_user, actor_service, request_id, method, message, "
    "changed, state_version";

}  // namespace

absl::Status PolicyStore::AppendHistory(Session& session,
                                        const PolicyHistoryRow& row,
                                        const std::string& previous_state,
                                        bool state_changed) {
  auto previous = Query(
      session,
      {"SELECT state_version FROM policy_history WHERE version < ? "
       "ORDER BY version DESC LIMIT 1",
       {row.version}},
      "reading the policy history", Reuse::kCached);
  if (!previous.ok()) return previous.status();
  auto insert = [&](const PolicyHistoryRow& r, int64_t state_version,
                    const std::string& state) {
    return Execute(
               session,
               {absl::StrCat("INSERT INTO policy_history (", kHistoryColumns,
                             ", state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                {r.version, r.time, r.actor_user, r.actor_service,
                 r.request_id, r.method, r.message,
                 absl::StrJoin(r.changed, "\n"), state_version,
                 state_version == r.version ? absl::BytesToHexString(state)
                                            : std::string()}},
               "recording the policy version", Reuse::kCached)
        .status();
  };
  int64_t base = 0;  // the version whose row holds the previous state
  if (!previous->empty()) {
    base = Int((*previous)[0][0]);
  } else if (row.version > 1) {
    // The first write since the history began (a database migrated with a
    // policy in it, or loaded directly, as the demo is): the policy it
    // started from becomes the first entry, so it can be diffed and rolled
    // back to.
    PolicyHistoryRow baseline;
    baseline.version = row.version - 1;
    baseline.time = row.time;
    baseline.message = "the policy as it was when its history began";
    if (absl::Status s = insert(baseline, baseline.version, previous_state);
        !s.ok()) {
      return s;
    }
    base = baseline.version;
  }
  const bool store_state = state_changed || base == 0;
  return insert(row, store_state ? row.version : base, row.state);
}

absl::StatusOr<std::vector<PolicyHistoryRow>> PolicyStore::ListHistory(
    Session& session, int64_t before_version, int limit) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", kHistoryColumns,
                    " FROM policy_history WHERE version < ? ORDER BY version "
                    "DESC LIMIT ?"),
       {before_version > 0 ? before_version
                           : std::numeric_limits<int64_t>::max(),
        static_cast<int64_t>(limit)}},
      "listing policy versions", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  std::vector<PolicyHistoryRow> out;
  out.reserve(rows->size());
  for (const Row& row : *rows) out.push_back(HistoryRow(row));
  return out;
}

absl::StatusOr<std::optional<PolicyHistoryRow>> PolicyStore::GetHistory(
    Session& session, int64_t version) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", kHistoryColumns,
                    ", (SELECT s.state FROM policy_history s WHERE s.version "
                    "= policy_history.state_version) FROM policy_history "
                    "WHERE version = ?"),
       {version}},
      "reading a policy version", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  PolicyHistoryRow h = HistoryRow((*rows)[0]);
  const std::string hex = Str((*rows)[0][9]);
  if (hex.size() % 2 != 0 ||
      !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit)) {
    return absl::InternalError(absl::StrCat(
        "policy_history: the state of version ", version, " is not hex"));
  }
  h.state = absl::HexStringToBytes(hex);
  return h;
}

namespace {
constexpr char kShadowColumns[] =
    "revision, active, prune, time, actor_user, actor_service, message, "
    "bundle";
}  // namespace

absl::StatusOr<ShadowPolicyRow> PolicyStore::GetShadow(Session& session) {
  auto rows = Query(session,
                    {absl::StrCat("SELECT ", kShadowColumns,
                                  " FROM policy_shadow WHERE id = 1"),
                     {}},
                    "reading the shadow policy");
  if (!rows.ok()) return rows.status();
  ShadowPolicyRow row;
  if (rows->empty()) return row;
  const auto& r = rows->front();
  row.revision = Int(r[0]);
  row.active = Int(r[1]) != 0;
  row.prune = Int(r[2]) != 0;
  row.time = Int(r[3]);
  row.actor_user = Str(r[4]);
  row.actor_service = Str(r[5]);
  row.message = Str(r[6]);
  const std::string hex = Str(r[7]);
  if (hex.size() % 2 != 0 ||
      !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit)) {
    return absl::InternalError("policy_shadow: the bundle is not hex");
  }
  row.bundle = absl::HexStringToBytes(hex);
  return row;
}

absl::StatusOr<int64_t> PolicyStore::ShadowRevision(Session& session) {
  return QueryInt(session,
                  {"SELECT revision FROM policy_shadow WHERE id = 1", {}},
                  "reading the shadow policy's revision");
}

absl::StatusOr<int64_t> PolicyStore::ShadowRevision() {
  int64_t revision = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto r = ShadowRevision(session);
    if (!r.ok()) return r.status();
    revision = *r;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return revision;
}

absl::StatusOr<int64_t> PolicyStore::PutShadow(Session& session,
                                               const ShadowPolicyRow& row,
                                               int64_t expect_revision) {
  // The UPDATE takes the row lock first; the revision read after it is the
  // one this transaction made.
  auto updated = Execute(
      session,
      {"UPDATE policy_shadow SET revision = revision + 1, active = ?, "
       "prune = ?, time = ?, actor_user = ?, actor_service = ?, message = ?, "
       "bundle = ? WHERE id = 1",
       {int64_t{row.active ? 1 : 0}, int64_t{row.prune ? 1 : 0}, row.time,
        row.actor_user, row.actor_service, row.message,
        absl::BytesToHexString(row.bundle)}},
      "writing the shadow policy");
  if (!updated.ok()) return updated.status();
  if (*updated != 1) {
    return absl::InternalError("policy_shadow: the row is missing");
  }
  auto revision = ShadowRevision(session);
  if (!revision.ok()) return revision.status();
  if (expect_revision > 0 && *revision - 1 != expect_revision) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the shadow policy is at revision ", *revision - 1, ", not ",
        expect_revision, "; read it again (crmctl policy shadow status)"));
  }
  return *revision;
}

absl::StatusOr<std::optional<bool>> PolicyStore::UserActive(
    Session& session, absl::string_view user_id) {
  auto rows = Query(session,
                    {"SELECT active FROM users WHERE id = ?",
                     {std::string(user_id)}},
                    "reading a user");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  return Int(rows->front()[0]) != 0;
}

absl::Status PolicyStore::InsertShare(Session& session, const ShareRow& s) {
  auto n = QueryInt(session,
                    {"SELECT COUNT(*) FROM record_shares WHERE id = ?", {s.id}},
                    "reading a record share");
  if (!n.ok()) return n.status();
  if (*n > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("record share ", s.id, " already exists"));
  }
  return Execute(session,
                 {absl::StrCat("INSERT INTO record_shares (", kShareColumns,
                               ") VALUES (?, ?, ?, ?, ?, ?, ?)"),
                  {s.id, s.object, s.record_id, s.grantee, s.access,
                   s.created_by, s.create_time}},
                 "writing a record share")
      .status();
}

absl::StatusOr<bool> PolicyStore::UpdateShareAccess(Session& session,
                                                    absl::string_view share_id,
                                                    int64_t access) {
  auto n = Execute(session,
                   {"UPDATE record_shares SET access = ? WHERE id = ?",
                    {access, std::string(share_id)}},
                   "updating a record share");
  if (!n.ok()) return n.status();
  return *n == 1;
}

absl::StatusOr<std::optional<ShareRow>> PolicyStore::FindShareByGrantee(
    Session& session, absl::string_view object, absl::string_view record_id,
    absl::string_view grantee) {
  auto shares = QueryShares(
      session,
      {absl::StrCat("SELECT ", kShareColumns,
                    " FROM record_shares WHERE object = ? AND grantee = ? AND "
                    "record_id = ? ORDER BY create_time, id LIMIT 1"),
       {std::string(object), std::string(grantee), std::string(record_id)}},
      "reading record shares");
  if (!shares.ok()) return shares.status();
  if (shares->empty()) return std::nullopt;
  return shares->front();
}

absl::StatusOr<std::optional<ShareRow>> PolicyStore::GetShare(
    Session& session, absl::string_view object, absl::string_view record_id,
    absl::string_view share_id) {
  auto shares = QueryShares(
      session,
      {absl::StrCat("SELECT ", kShareColumns,
                    " FROM record_shares WHERE id = ? AND object = ? AND "
                    "record_id = ?"),
       {std::string(share_id), std::string(object), std::string(record_id)}},
      "reading a record share");
  if (!shares.ok()) return shares.status();
  if (shares->empty()) return std::nullopt;
  return shares->front();
}

absl::StatusOr<bool> PolicyStore::DeleteShare(Session& session,
                                              absl::string_view object,
                                              absl::string_view record_id,
                                              absl::string_view share_id) {
  auto n = Execute(session,
                   {"DELETE FROM record_shares WHERE id = ? AND object = ? "
                    "AND record_id = ?",
                    {std::string(share_id), std::string(object),
                     std::string(record_id)}},
                   "deleting a record share");
  if (!n.ok()) return n.status();
  return *n == 1;
}

absl::StatusOr<int64_t> PolicyStore::DeleteSharesOf(
    Session& session, absl::string_view object, absl::string_view record_id) {
  return Execute(session,
                 {"DELETE FROM record_shares WHERE object = ? AND record_id = ?",
                  {std::string(object), std::string(record_id)}},
                 "deleting the shares of a record");
}

absl::StatusOr<std::vector<ShareRow>> PolicyStore::SharesFor(
    Session& session, absl::string_view object, absl::string_view record_id) {
  // On every point decision: a fixed text, kept prepared.
  static const std::string* const kSql = new std::string(absl::StrCat(
      "SELECT ", kShareColumns,
      " FROM record_shares WHERE object = ? AND record_id = ? "
      "ORDER BY create_time, id"));
  return QueryShares(session,
                     {*kSql, {std::string(object), std::string(record_id)}},
                     "reading the shares of a record", Reuse::kCached);
}

absl::StatusOr<std::map<std::string, std::vector<ShareRow>>>
PolicyStore::SharesForAll(Session& session, absl::string_view object,
                          const std::vector<std::string>& record_ids) {
  std::map<std::string, std::vector<ShareRow>> out;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1, [&](size_t begin, size_t end) -> absl::Status {
        std::vector<model::SqlValue> params = {std::string(object)};
        params.insert(params.end(), record_ids.begin() + begin,
                      record_ids.begin() + end);
        auto shares = QueryShares(
            session,
            {absl::StrCat("SELECT ", kShareColumns,
                          " FROM record_shares WHERE object = ? AND "
                          "record_id IN (",
                          Placeholders(end - begin),
                          ") ORDER BY record_id, create_time, id"),
             std::move(params)},
            "reading the shares of records");
        if (!shares.ok()) return shares.status();
        for (ShareRow& row : *shares) {
          std::string id = row.record_id;
          out[id].push_back(std::move(row));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<ShareRow>> PolicyStore::ListShares(
    Session& session, absl::string_view object, absl::string_view record_id,
    int64_t after_time, absl::string_view after_id, int limit) {
  return QueryShares(
      session,
      {absl::StrCat("SELECT ", kShareColumns,
                    " FROM record_shares WHERE object = ? AND record_id = ? "
                    "AND (create_time > ? OR (create_time = ? AND id > ?)) "
                    "ORDER BY create_time, id LIMIT ?"),
       {std::string(object), std::string(record_id), after_time, after_time,
        std::string(after_id), int64_t{limit}}},
      "listing the shares of a record");
}

absl::StatusOr<int64_t> PolicyStore::CountSharesWithGrantee(
    Session& session, const std::vector<std::string>& grantees) {
  if (grantees.empty()) return 0;
  // Naming the collections lets both databases use the (object, grantee,
  // record_id) index instead of scanning every share: without it, pruning
  // 250 groups against 500,000 shares took 16-29 s (bench/README.md,
  // "Policy as code"). Shares exist only for the registered collections
  // (SharingService refuses others).
  SqlFragment q;
  q.Append("SELECT COUNT(*) FROM record_shares WHERE object IN (");
  bool first = true;
  for (const model::ObjectSchema* schema :
       model::SchemaRegistry::Default().All()) {
    q.Append(first ? "?" : ", ?", {schema->collection()});
    first = false;
  }
  q.Append(") AND grantee IN (");
  for (size_t i = 0; i < grantees.size(); ++i) {
    q.Append(i == 0 ? "?" : ", ?", {grantees[i]});
  }
  q.Append(")");
  return QueryInt(session, q, "counting record shares");
}

}  // namespace crm::store
