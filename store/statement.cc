#include "store/statement.h"

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "store/soci_util.h"

namespace crm::store {
namespace {

// The fragment's SQL in SOCI placeholder syntax, after checking the count.
absl::StatusOr<std::string> PrepareText(const model::SqlFragment& fragment,
                                        absl::string_view operation) {
  size_t count = 0;
  std::string text = RewritePlaceholders(fragment.sql, &count);
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

}  // namespace

Dialect DialectOf(const Session& session) { return session.dialect(); }

absl::StatusOr<int64_t> Execute(Session& session,
                                const model::SqlFragment& statement,
                                absl::string_view operation) {
  absl::StatusOr<std::string> text = PrepareText(statement, operation);
  if (!text.ok()) return text.status();
  try {
    BoundParams params(statement.params);
    soci::details::prepare_temp_type prep = (session.sql().prepare << *text);
    params.BindTo(prep);
    soci::statement st(prep);
    st.execute(true);
    long long affected = st.get_affected_rows();
    return affected < 0 ? 0 : static_cast<int64_t>(affected);
  } catch (const std::exception& e) {
    return ToStatus(&session, operation, statement.sql, e);
  }
}

absl::StatusOr<std::vector<Row>> Query(Session& session,
                                       const model::SqlFragment& query,
                                       absl::string_view operation) {
  absl::StatusOr<std::string> text = PrepareText(query, operation);
  if (!text.ok()) return text.status();
  std::vector<Row> rows;
  try {
    BoundParams params(query.params);
    soci::row row;
    soci::details::prepare_temp_type prep = (session.sql().prepare << *text);
    prep, soci::into(row);
    params.BindTo(prep);
    soci::statement st(prep);
    st.execute();
    while (st.fetch()) {
      Row out;
      out.reserve(row.size());
      for (size_t i = 0; i < row.size(); ++i) {
        absl::StatusOr<model::SqlValue> value = RowValue(row, i);
        if (!value.ok()) {
          LogStoreError(absl::StrCat(operation, ": ", value.status().message(),
                                     " [sql: ", query.sql, "]"));
          return absl::InternalError(absl::StrCat(
              "database error while ", operation,
              " (details in the server log)"));
        }
        out.push_back(*std::move(value));
      }
      rows.push_back(std::move(out));
    }
  } catch (const std::exception& e) {
    return ToStatus(&session, operation, query.sql, e);
  }
  return rows;
}

absl::StatusOr<int64_t> QueryInt(Session& session,
                                 const model::SqlFragment& query,
                                 absl::string_view operation) {
  absl::StatusOr<std::string> text = PrepareText(query, operation);
  if (!text.ok()) return text.status();
  try {
    BoundParams params(query.params);
    long long value = 0;
    soci::indicator indicator = soci::i_ok;
    soci::details::prepare_temp_type prep = (session.sql().prepare << *text);
    prep, soci::into(value, indicator);
    params.BindTo(prep);
    soci::statement st(prep);
    if (!st.execute(true) || indicator == soci::i_null) return 0;
    return static_cast<int64_t>(value);
  } catch (const std::exception& e) {
    return ToStatus(&session, operation, query.sql, e);
  }
}

}  // namespace crm::store
