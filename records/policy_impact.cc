#include "records/policy_impact.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "store/record_store.h"

namespace crm::records {
namespace {

// Rows `in` selects and `out` does not. A predicate over nullable columns
// may be NULL (a criteria on an empty field): NOT NULL is NULL, so `out`
// is read as false unless it is true.
model::SqlFragment Without(const model::SqlFragment& in,
                           const model::SqlFragment& out) {
  if (out.sql.empty()) return {"1 = 0", {}};  // `out` selects every row
  model::SqlFragment not_out{
      absl::StrCat("NOT COALESCE((", out.sql, "), FALSE)"), out.params};
  return model::And(in, not_out);
}

absl::StatusOr<std::vector<std::string>> Examples(
    const Deps& deps, store::Session& session,
    const model::ObjectSchema& schema, const model::SqlFragment& where,
    int limit) {
  std::vector<std::string> out;
  if (limit <= 0) return out;
  store::ListQuery q;
  q.where = where;
  q.order = {{"id", false}};
  q.limit = limit;
  auto rows = deps.records->List(session, schema, q);
  if (!rows.ok()) return rows.status();
  for (const model::Record& r : *rows) out.push_back(schema.ResourceName(r.id));
  return out;
}

}  // namespace

absl::StatusOr<RecordDelta> CountRecordDelta(const Deps& deps,
                                             const model::ObjectSchema& schema,
                                             const model::SqlFragment& before,
                                             const model::SqlFragment& after,
                                             int max_examples) {
  RecordDelta d;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    // |after|, |after AND before|; |before|.
    auto n = deps.records->CountSubsetsInSnapshot(
        session, schema, {{after, {before}}, {before, {}}});
    if (!n.ok()) return n.status();
    d.after = (*n)[0][0];
    const int64_t both = (*n)[0][1];
    d.before = (*n)[1][0];
    d.gained = d.after - both;
    d.lost = d.before - both;
    if (d.gained > 0) {
      auto e = Examples(deps, session, schema, Without(after, before),
                        max_examples);
      if (!e.ok()) return e.status();
      d.examples_gained = *std::move(e);
    }
    if (d.lost > 0) {
      auto e = Examples(deps, session, schema, Without(before, after),
                        max_examples);
      if (!e.ok()) return e.status();
      d.examples_lost = *std::move(e);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return d;
}

absl::StatusOr<int64_t> CountSelected(const Deps& deps,
                                      const model::ObjectSchema& schema,
                                      const model::SqlFragment& where) {
  int64_t n = 0;
  absl::Status s = deps.database->WithSession([&](store::Session& session) {
    // As the user counts (one read-only statement, JIT off on PostgreSQL).
    auto c = deps.records->CountSubsetsInSnapshot(session, schema,
                                                  {{where, {}}});
    if (!c.ok()) return c.status();
    n = c->at(0).at(0);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

}  // namespace crm::records
