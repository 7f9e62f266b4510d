#include "store/statement.h"

#include "absl/strings/numbers.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "soci/sqlite3/soci-sqlite3.h"
#include "store/soci_util.h"

namespace crm::store {
namespace {

// The fragment's SQL in SOCI placeholder syntax, after checking the count.
absl::StatusOr<std::string> PrepareText(const model::SqlFragment& fragment,
                                        BindStyle style,
                                        absl::string_view operation) {
  size_t count = 0;
  std::string text = RewritePlaceholders(fragment.sql, &count, style);
  if (count != fragment.params.size()) {
    LogStoreError(absl::StrCat(operation, ": statement has ", count,
                               " placeholders but ", fragment.params.size(),
                               " parameters [sql: ", fragment.sql, "]"));
    return absl::InternalError(absl::StrCat(
        "internal error while ", operation,
        ": malformed statement (details in the server log)"));
  }
  return text;
}

// A prepared statement for one execution: either an entry of the
// connection's StatementCache or one owned here for this call only.
class PreparedStatement {
 public:
  // Prepares (or finds) the statement for `fragment`; on failure returns the
  // status and leaves nothing cached.
  static absl::StatusOr<PreparedStatement> Acquire(
      Session& session, const model::SqlFragment& fragment, ResultShape shape,
      Reuse reuse, absl::string_view operation) {
    PreparedStatement out(session);
    StatementCache* cache =
        reuse == Reuse::kCached ? session.statements() : nullptr;
    if (cache != nullptr) {
      out.key_.reserve(fragment.sql.size() + fragment.params.size() + 2);
      out.key_.push_back(static_cast<char>(shape));
      BoundParams::AppendKinds(fragment.params, &out.key_);
      out.key_.push_back('|');
      out.key_.append(fragment.sql);
      CachedStatement* hit = cache->Find(out.key_);
      // Same kinds (they are in the key), so Assign cannot fail.
      if (hit != nullptr && hit->params.Assign(fragment.params)) {
        out.entry_ = hit;
        out.cache_ = cache;
        return out;
      }
    }
    const BindStyle style = session.dialect() == Dialect::kSqlite
                                   ? BindStyle::kPositional
                                   : BindStyle::kNamed;
    absl::StatusOr<std::string> text = PrepareText(fragment, style, operation);
    if (!text.ok()) return text.status();
    auto entry = std::make_unique<CachedStatement>(fragment.params);
    try {
      soci::details::prepare_temp_type prep = (session.sql().prepare << *text);
      if (shape == ResultShape::kRows) {
        prep, soci::into(entry->row);
      } else if (shape == ResultShape::kInteger) {
        prep, soci::into(entry->integer, entry->indicator);
      }
      entry->params.BindTo(prep, style);
      entry->statement.emplace(prep);
    } catch (const std::exception& e) {
      return ToStatus(&session, operation, fragment.sql, e);
    }
    if (cache != nullptr) {
      out.entry_ = cache->Insert(out.key_, std::move(entry));
      out.cache_ = cache;
    } else {
      out.owned_ = std::move(entry);
      out.entry_ = out.owned_.get();
    }
    return out;
  }

  PreparedStatement(PreparedStatement&& other) noexcept
      : session_(other.session_),
        key_(std::move(other.key_)),
        cache_(std::exchange(other.cache_, nullptr)),
        entry_(std::exchange(other.entry_, nullptr)),
        owned_(std::move(other.owned_)) {}
  PreparedStatement& operator=(PreparedStatement&&) = delete;

  // Resets a SQLite statement, so that no finished or half-read statement
  // keeps the connection's read snapshot open after this call.
  ~PreparedStatement() {
    if (entry_ == nullptr || !entry_->statement.has_value() ||
        session_->dialect() != Dialect::kSqlite) {
      return;
    }
    auto* backend = static_cast<soci::sqlite3_statement_backend*>(
        entry_->statement->get_backend());
    if (backend != nullptr && backend->stmt_ != nullptr) {
      sqlite_api::sqlite3_reset(backend->stmt_);
    }
  }

  CachedStatement& operator*() { return *entry_; }
  CachedStatement* operator->() { return entry_; }

  // After a failed execution a cached statement is dropped (it is prepared
  // again next time), in case the failure was about the statement itself.
  // Inside a PostgreSQL transaction the failure aborted the transaction, so
  // a DEALLOCATE would fail there: the statement is retired and destroyed
  // when the transaction has ended (StatementCache::Retire).
  void Discard() {
    if (cache_ == nullptr) return;
    if (session_->dialect() == Dialect::kPostgres &&
        session_->in_transaction()) {
      cache_->Retire(key_);  // entry_ stays alive until DropRetired
    } else {
      entry_ = nullptr;
      cache_->Evict(key_);
    }
    cache_ = nullptr;
  }

 private:
  explicit PreparedStatement(Session& session) : session_(&session) {}

  Session* session_;
  std::string key_;
  StatementCache* cache_ = nullptr;        // set when entry_ is cached
  CachedStatement* entry_ = nullptr;
  std::unique_ptr<CachedStatement> owned_;  // set when not cached
};

// Runs `fn(statement)` on a prepared statement for `fragment`, turning an
// exception into a status (and discarding a cached statement that threw).
template <typename T, typename Fn>
absl::StatusOr<T> Run(Session& session, const model::SqlFragment& fragment,
                      ResultShape shape, Reuse reuse,
                      absl::string_view operation, Fn fn) {
  absl::StatusOr<PreparedStatement> prepared = PreparedStatement::Acquire(
      session, fragment, shape, reuse, operation);
  if (!prepared.ok()) return prepared.status();
  try {
    return fn(**prepared);
  } catch (const std::exception& e) {
    prepared->Discard();
    return ToStatus(&session, operation, fragment.sql, e);
  }
}

}  // namespace

Dialect DialectOf(const Session& session) { return session.dialect(); }

absl::StatusOr<int64_t> Execute(Session& session,
                                const model::SqlFragment& statement,
                                absl::string_view operation, Reuse reuse) {
  return Run<int64_t>(session, statement, ResultShape::kNone, reuse,
                      operation, [](CachedStatement& st) -> int64_t {
                        st.statement->execute(true);
                        long long affected = st.statement->get_affected_rows();
                        return affected < 0 ? 0 : affected;
                      });
}

absl::StatusOr<std::vector<Row>> Query(Session& session,
                                       const model::SqlFragment& query,
                                       absl::string_view operation,
                                       Reuse reuse) {
  return Run<std::vector<Row>>(
      session, query, ResultShape::kRows, reuse, operation,
      [&](CachedStatement& st) -> absl::StatusOr<std::vector<Row>> {
        std::vector<Row> rows;
        st.statement->execute();
        while (st.statement->fetch()) {
          const soci::row& row = st.row;
          Row out;
          out.reserve(row.size());
          for (size_t i = 0; i < row.size(); ++i) {
            absl::StatusOr<model::SqlValue> value = RowValue(row, i);
            if (!value.ok()) {
              LogStoreError(absl::StrCat(operation, ": ",
                                         value.status().message(),
                                         " [sql: ", query.sql, "]"));
              return absl::InternalError(
                  absl::StrCat("database error while ", operation,
                               " (details in the server log)"));
            }
            out.push_back(*std::move(value));
          }
          rows.push_back(std::move(out));
        }
        return rows;
      });
}

std::optional<int64_t> IntOf(const model::SqlValue& value) {
  int64_t parsed = 0;
  if (const int64_t* n = std::get_if<int64_t>(&value)) return *n;
  if (const double* d = std::get_if<double>(&value)) {
    return static_cast<int64_t>(*d);
  }
  if (const std::string* text = std::get_if<std::string>(&value);
      text != nullptr && absl::SimpleAtoi(*text, &parsed)) {
    return parsed;
  }
  return std::nullopt;
}

absl::StatusOr<int64_t> QueryInt(Session& session,
                                 const model::SqlFragment& query,
                                 absl::string_view operation, Reuse reuse) {
  return Run<int64_t>(session, query, ResultShape::kInteger, reuse, operation,
                      [](CachedStatement& st) -> int64_t {
                        st.integer = 0;
                        st.indicator = soci::i_ok;
                        if (!st.statement->execute(true) ||
                            st.indicator == soci::i_null) {
                          return 0;
                        }
                        return static_cast<int64_t>(st.integer);
                      });
}

std::string Placeholders(size_t n) {
  std::string out;
  out.reserve(n * 3);
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

absl::Status ForEachChunk(
    size_t n, size_t params_per_item, size_t fixed_params,
    const std::function<absl::Status(size_t, size_t)>& fn) {
  const size_t room = kMaxParams > fixed_params ? kMaxParams - fixed_params : 0;
  const size_t step =
      std::max<size_t>(1, params_per_item == 0 ? n : room / params_per_item);
  for (size_t begin = 0; begin < n; begin += step) {
    if (absl::Status s = fn(begin, std::min(n, begin + step)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace crm::store
