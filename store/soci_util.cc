#include "store/soci_util.h"

#include <atomic>

#include <cstdint>
#include <ctime>
#include <limits>

// soci-sqlite3.h includes sqlite3.h (inside namespace sqlite_api), which
// defines the SQLITE_* result codes used below; including <sqlite3.h>
// directly as well would break that header.

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "base/error.h"
#include "base/log.h"
#include "absl/strings/str_cat.h"
#include "soci/postgresql/soci-postgresql.h"
#include "soci/sqlite3/soci-sqlite3.h"

namespace crm::store {

std::string RewritePlaceholders(absl::string_view sql, size_t* count,
                                BindStyle style) {
  const bool named = style == BindStyle::kNamed;
  std::string out;
  out.reserve(sql.size() + 16);
  size_t n = 0;
  char quote = 0;  // inside '...' or "..." when non-zero
  for (char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '?') {
      if (named) {
        absl::StrAppend(&out, ":p", n);
      } else {
        out.push_back(c);
      }
      ++n;
    } else {
      out.push_back(c);
    }
  }
  *count = n;
  return out;
}

BoundParams::BoundParams(const std::vector<model::SqlValue>& values)
    : slots_(values.size()) {
  for (size_t i = 0; i < values.size(); ++i) {
    slots_[i].kind = static_cast<int>(values[i].index());
    Fill(values[i], slots_[i]);
  }
}

void BoundParams::Fill(const model::SqlValue& value, Slot& slot) {
  slot.indicator = soci::i_ok;
  if (const auto* v = std::get_if<int64_t>(&value)) {
    slot.integer = *v;
  } else if (const auto* d = std::get_if<double>(&value)) {
    slot.real = *d;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    slot.text.assign(*s);
  } else {
    slot.text.clear();
    slot.indicator = soci::i_null;
  }
}

bool BoundParams::Assign(const std::vector<model::SqlValue>& values) {
  if (values.size() != slots_.size()) return false;
  for (size_t i = 0; i < values.size(); ++i) {
    if (static_cast<int>(values[i].index()) != slots_[i].kind) return false;
  }
  for (size_t i = 0; i < values.size(); ++i) Fill(values[i], slots_[i]);
  return true;
}

void BoundParams::AppendKinds(const std::vector<model::SqlValue>& values,
                              std::string* out) {
  for (const model::SqlValue& v : values) {
    out->push_back(static_cast<char>('0' + v.index()));
  }
}

CachedStatement* StatementCache::Find(const std::string& key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second.get();
}

void StatementCache::Retire(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  retired_.push_back(std::move(it->second));
  entries_.erase(it);
}

CachedStatement* StatementCache::Insert(
    std::string key, std::unique_ptr<CachedStatement> statement) {
  if (entries_.size() >= kMaxEntries) entries_.clear();
  CachedStatement* raw = statement.get();
  entries_[std::move(key)] = std::move(statement);
  return raw;
}

void BoundParams::BindTo(soci::details::prepare_temp_type& prep,
                         BindStyle style) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    // SOCI binds a use element with an empty name by position.
    const std::string name =
        style == BindStyle::kNamed ? absl::StrCat("p", i) : std::string();
    switch (slot.kind) {
      case 1:
        prep, soci::use(slot.integer, slot.indicator, name);
        break;
      case 2:
        prep, soci::use(slot.real, slot.indicator, name);
        break;
      default:  // text, or NULL (bound as a NULL string)
        prep, soci::use(slot.text, slot.indicator, name);
        break;
    }
  }
}

absl::StatusOr<model::SqlValue> RowValue(const soci::row& row, size_t i) {
  if (row.get_indicator(i) == soci::i_null) return std::monostate{};
  const soci::column_properties& props = row.get_properties(i);
  switch (props.get_data_type()) {
    case soci::dt_string:
    case soci::dt_xml:
      return row.get<std::string>(i);
    case soci::dt_integer:
      return static_cast<int64_t>(row.get<int>(i));
    case soci::dt_long_long:
      return static_cast<int64_t>(row.get<long long>(i));
    case soci::dt_unsigned_long_long: {
      unsigned long long v = row.get<unsigned long long>(i);
      if (v > static_cast<unsigned long long>(
                  std::numeric_limits<int64_t>::max())) {
        return absl::InternalError(absl::StrCat(
            "column '", props.get_name(), "' holds an unsigned value beyond "
            "the 64-bit signed range"));
      }
      return static_cast<int64_t>(v);
    }
    case soci::dt_double:
      return row.get<double>(i);
    case soci::dt_date:
    case soci::dt_blob:
      break;
  }
  return absl::InternalError(absl::StrCat(
      "column '", props.get_name(),
      "' has a type the store does not read (date or blob); the schema uses "
      "only TEXT, BIGINT and DOUBLE PRECISION"));
}

namespace {

bool IsConnectionSqlState(const std::string& state) {
  // 08: connection exception; 57P01-03: admin/crash shutdown, cannot
  // connect now; 53300: too many connections; 25006 read-only transaction
  // (a standby after a failover: reconnecting finds the new primary when
  // the connection string says target_session_attrs=read-write).
  return absl::StartsWith(state, "08") || state == "57P01" ||
         state == "57P02" || state == "57P03" || state == "53300" ||
         state == "25006";
}

bool SessionDisconnected(Session* session) {
  if (session == nullptr) return false;
  // is_connected(): false without a backend (a reconnect that failed) or
  // when libpq's PQstatus is no longer CONNECTION_OK.
  return !session->sql().is_connected();
}

}  // namespace

ErrorClass Classify(const std::exception& e, Session* session) {
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    const std::string state = pg->sqlstate();
    if (state == "40001" || state == "40P01") return ErrorClass::kRetryable;
    if (state == "23505") return ErrorClass::kUniqueViolation;
    if (absl::StartsWith(state, "23")) return ErrorClass::kConstraint;
    if (IsConnectionSqlState(state) ||
        pg->get_error_category() == soci::soci_error::connection_error ||
        SessionDisconnected(session)) {
      return ErrorClass::kUnavailable;
    }
    return ErrorClass::kOther;
  }
  if (const auto* lite = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    switch (lite->result() & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return ErrorClass::kRetryable;
      case SQLITE_CONSTRAINT:
        return absl::StrContains(lite->what(), "UNIQUE") ||
                       absl::StrContains(lite->what(), "PRIMARY KEY")
                   ? ErrorClass::kUniqueViolation
                   : ErrorClass::kConstraint;
      case SQLITE_CANTOPEN:
      case SQLITE_IOERR:
      case SQLITE_FULL:
      case SQLITE_READONLY:
        return ErrorClass::kUnavailable;
      default:
        return ErrorClass::kOther;
    }
  }
  if (const auto* soci_e = dynamic_cast<const soci::soci_error*>(&e)) {
    if (soci_e->get_error_category() == soci::soci_error::connection_error ||
        SessionDisconnected(session)) {
      return ErrorClass::kUnavailable;
    }
  }
  return ErrorClass::kOther;
}

void LogStoreError(absl::string_view message) {
  base::LogError("store.error", {{"error", std::string(message)}});
}

void LogStoreEvent(
    absl::string_view event,
    std::initializer_list<std::pair<absl::string_view, std::string>> fields) {
  base::Log(base::LogLevel::kWarning, event, fields);
}

absl::Status UnavailableDetails(absl::Status status,
                                absl::string_view cause) {
  status = base::WithErrorInfo(std::move(status),
                               crm::v1::DATABASE_UNAVAILABLE,
                               {{"cause", std::string(cause)}});
  return base::WithRetryInfo(std::move(status), kDatabaseRetryDelay);
}

absl::Status InternalErrorWithId(absl::string_view operation,
                                 absl::string_view detail) {
  thread_local absl::BitGen bitgen;
  const std::string id = absl::StrFormat(
      "%08x", absl::Uniform<uint32_t>(bitgen));
  base::LogError("store.internal_error", {{"error_id", id},
                                          {"operation", std::string(operation)},
                                          {"error", std::string(detail)}});
  return absl::InternalError(absl::StrCat("internal error while ", operation,
                                          " (error id ", id,
                                          " in the server log)"));
}

namespace {
std::atomic<int64_t> g_database_errors{0};
}  // namespace

int64_t DatabaseErrorCount() {
  return g_database_errors.load(std::memory_order_relaxed);
}

absl::Status ToStatus(Session* session, absl::string_view operation,
                      absl::string_view sql, const std::exception& e) {
  g_database_errors.fetch_add(1, std::memory_order_relaxed);
  const auto* soci_e = dynamic_cast<const soci::soci_error*>(&e);
  // get_error_message() omits SOCI's context, which can quote values.
  const std::string detail = MaskConnection(
      soci_e != nullptr ? soci_e->get_error_message() : std::string(e.what()));
  const std::string logged =
      absl::StrCat(operation, " failed: ", detail, sql.empty() ? "" : " [sql: ",
                   sql, sql.empty() ? "" : "]");
  switch (Classify(e, session)) {
    case ErrorClass::kUnavailable:
      if (session != nullptr) session->MarkBroken();
      LogStoreEvent("store.connection_lost", {{"error", logged}});
      return UnavailableDetails(
          absl::UnavailableError(absl::StrCat(
              "the CRM database is unavailable (connection lost while ",
              operation, "); retry later")),
          "connection_lost");
    case ErrorClass::kRetryable:
      if (session != nullptr) session->MarkRetryable();
      LogStoreEvent("store.conflict", {{"error", logged}});
      return base::WithErrorInfo(
          absl::AbortedError(absl::StrCat(
              "database busy or transaction conflict while ", operation,
              "; retry the request")),
          crm::v1::CONCURRENT_MODIFICATION,
          {{"operation", std::string(operation)}});
    case ErrorClass::kUniqueViolation:
      LogStoreEvent("store.unique_violation", {{"error", logged}});
      return absl::AlreadyExistsError(absl::StrCat(
          "a record with the same key already exists (", operation, ")"));
    case ErrorClass::kConstraint:
      LogStoreEvent("store.constraint_violation", {{"error", logged}});
      return absl::FailedPreconditionError(absl::StrCat(
          "the change violates a database constraint (", operation,
          "): a record it refers to may have been deleted"));
    case ErrorClass::kOther:
      break;
  }
  return InternalErrorWithId(operation, logged);
}

}  // namespace crm::store
