// Store-internal glue between model::SqlFragment and SOCI. Only files in
// store/ include this header (it pulls in SOCI).
#ifndef CRM_STORE_SOCI_UTIL_H_
#define CRM_STORE_SOCI_UTIL_H_

#include <exception>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/sql.h"
#include "soci/soci.h"
#include "store/database.h"

namespace crm::store {

// A leased connection. Created only by Database; lives for one callback.
class Session {
 public:
  Session(soci::session& sql, Dialect dialect, bool in_transaction)
      : sql_(sql), dialect_(dialect), in_transaction_(in_transaction) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  soci::session& sql() { return sql_; }
  Dialect dialect() const { return dialect_; }
  bool in_transaction() const { return in_transaction_; }

  // Set by ToStatus when a statement hit a transient conflict (the
  // transaction may succeed if retried) or lost its connection.
  void MarkRetryable() { retryable_ = true; }
  bool retryable() const { return retryable_; }
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }

 private:
  soci::session& sql_;
  const Dialect dialect_;
  const bool in_transaction_;
  bool retryable_ = false;
  bool broken_ = false;
};

// Rewrites each '?' outside quotes into ":p0", ":p1", ... Returns the number
// of placeholders in *count.
std::string RewritePlaceholders(absl::string_view sql, size_t* count);

// Owns copies of a fragment's values for as long as a statement that binds
// them runs. Never resized after construction, so the references SOCI holds
// stay valid.
class BoundParams {
 public:
  explicit BoundParams(const std::vector<model::SqlValue>& values);
  BoundParams(const BoundParams&) = delete;
  BoundParams& operator=(const BoundParams&) = delete;

  // Adds soci::use(...) for every value, named p0, p1, ... in order.
  void BindTo(soci::details::prepare_temp_type& prep);

 private:
  struct Slot {
    long long integer = 0;
    double real = 0;
    std::string text;
    soci::indicator indicator = soci::i_ok;
    std::string name;
    int kind = 0;  // index of the SqlValue alternative
  };
  std::vector<Slot> slots_;
};

// Column `i` of `row` as a SqlValue, whatever type the backend reported
// (SQLite maps declared types loosely). NULL gives std::monostate. Fails for
// BLOB/date columns and unsigned values beyond int64.
absl::StatusOr<model::SqlValue> RowValue(const soci::row& row, size_t i);

// Classification of a database exception.
enum class ErrorClass {
  kUnavailable,   // connection lost / cannot connect
  kRetryable,     // busy, locked, serialization failure, deadlock
  kUniqueViolation,
  kOther,
};
ErrorClass Classify(const std::exception& e);

// Converts an exception thrown while `operation` ran (e.g. "reading
// accounts") into a status: UNAVAILABLE, ABORTED (retryable; also marks the
// session), ALREADY_EXISTS (unique violation) or INTERNAL. The message names
// the operation only; the driver's detail and `sql` (placeholders, never
// values) go to the server log (stderr).
absl::Status ToStatus(Session* session, absl::string_view operation,
                      absl::string_view sql, const std::exception& e);

// Writes one line to the server log (stderr).
void LogStoreError(absl::string_view message);

}  // namespace crm::store

#endif  // CRM_STORE_SOCI_UTIL_H_
