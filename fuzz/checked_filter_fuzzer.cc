// Fuzz target: checking a filter against a schema and its two evaluators
// (query/checked_filter.h): ToSql, run by a real in-memory SQLite, and the
// in-memory Matches must select exactly the same records.
//
// Input: 4 header bytes, then the filter text.
//   [0] schema: widgets (query/test_schema.h, one field of every kind) or
//       one of the API's resources
//   [1] field access: bit (i % 8) set refuses the i-th stored field, as the
//       policy refuses unreadable fields
//   [2..3] seed of the records the filter is evaluated on
// Properties:
//   - Checking never crashes; a refusal is INVALID_ARGUMENT "filter: ...".
//   - A refused field is reported exactly as an unknown field, whatever its
//     literal (its existence and type must not leak), and refusing fields
//     never makes a filter pass that fails with every field allowed.
//   - Every checked comparison holds a value of its column's representation
//     (model/object_schema.h), enums and booleans only with = and !=,
//     timestamps within years 0001..9999.
//   - ToSql has exactly one bound parameter per '?' and never inlines a
//     literal (no quote character in the SQL text).
//   - The canonical text checks to the same SQL and parameters.
//   - On records built around the filter's own literals (equal, one below,
//     one above), SQLite's rows for ToSql(f) and for NOT f are exactly the
//     records Matches accepts for f and for NOT f, and (no NULLs in a
//     stored record) exactly one of f and NOT f holds for each record.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_check.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "query/checked_filter.h"
#include "query/test_schema.h"

namespace crm::query {
namespace {

using fuzz::Escaped;
using model::FieldKind;
using model::FieldSchema;
using model::Record;
using model::SqlValue;

constexpr int kRecords = 8;

const std::vector<const model::ObjectSchema*>& Schemas() {
  static const auto* schemas = [] {
    auto* v =
        new std::vector<const model::ObjectSchema*>{&testing::WidgetSchema()};
    for (const char* c : {"accounts", "contacts", "leads", "opportunities",
                          "cases", "activities"}) {
      const model::ObjectSchema* s = model::SchemaRegistry::Default().Find(c);
      FUZZ_CHECK(s != nullptr) << c;
      v->push_back(s);
    }
    return v;
  }();
  return *schemas;
}

const char* ColumnType(FieldKind kind) {
  switch (kind) {
    case FieldKind::kString:
    case FieldKind::kEnum:
      return "TEXT";
    case FieldKind::kDouble:
      return "DOUBLE PRECISION";
    case FieldKind::kInt64:
    case FieldKind::kBool:
    case FieldKind::kTimestamp:
      return "BIGINT";
  }
  return "?";
}

void Bind(sqlite3_stmt* stmt, int i, const SqlValue& v) {
  int rc = SQLITE_OK;
  if (const auto* x = std::get_if<int64_t>(&v)) {
    rc = sqlite3_bind_int64(stmt, i, *x);
  } else if (const auto* d = std::get_if<double>(&v)) {
    rc = sqlite3_bind_double(stmt, i, *d);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    rc = sqlite3_bind_text(stmt, i, s->data(), static_cast<int>(s->size()),
                           SQLITE_TRANSIENT);
  } else {
    rc = sqlite3_bind_null(stmt, i);
  }
  FUZZ_CHECK(rc == SQLITE_OK) << rc;
}

// One in-memory SQLite table per schema, shaped like the store's (every
// column NOT NULL, the mapping of model/object_schema.h), kept for the whole
// run and emptied before each input.
class Table {
 public:
  explicit Table(const model::ObjectSchema& schema) {
    FUZZ_CHECK(sqlite3_open(":memory:", &db_) == SQLITE_OK);
    std::vector<std::string> columns = {"id TEXT PRIMARY KEY",
                                        "version BIGINT NOT NULL"};
    std::vector<std::string> marks = {"?", "?"};
    for (const auto& f : schema.fields()) {
      columns.push_back(absl::StrCat(model::QuoteIdentifier(f.name), " ",
                                     ColumnType(f.kind), " NOT NULL"));
      marks.push_back("?");
    }
    Exec(absl::StrCat("CREATE TABLE t (", absl::StrJoin(columns, ", "), ")"));
    const std::string insert =
        absl::StrCat("INSERT INTO t VALUES (", absl::StrJoin(marks, ", "), ")");
    FUZZ_CHECK(sqlite3_prepare_v2(db_, insert.c_str(), -1, &insert_, nullptr) ==
               SQLITE_OK)
        << sqlite3_errmsg(db_);
  }

  void Reset(const std::vector<Record>& records) {
    Exec("DELETE FROM t");
    for (const Record& r : records) {
      sqlite3_reset(insert_);
      sqlite3_clear_bindings(insert_);
      Bind(insert_, 1, r.id);
      Bind(insert_, 2, r.version);
      for (size_t i = 0; i < r.values.size(); ++i) {
        Bind(insert_, static_cast<int>(i) + 3, r.values[i]);
      }
      FUZZ_CHECK(sqlite3_step(insert_) == SQLITE_DONE) << sqlite3_errmsg(db_);
    }
  }

  // The ids of the rows matching `where`, in id order.
  std::vector<std::string> Select(const model::SqlFragment& where) {
    const std::string sql =
        absl::StrCat("SELECT id FROM t WHERE ", where.sql, " ORDER BY id");
    sqlite3_stmt* stmt = nullptr;
    FUZZ_CHECK(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) ==
               SQLITE_OK)
        << sqlite3_errmsg(db_) << " in " << sql;
    for (size_t i = 0; i < where.params.size(); ++i) {
      Bind(stmt, static_cast<int>(i) + 1, where.params[i]);
    }
    std::vector<std::string> ids;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ids.emplace_back(
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    FUZZ_CHECK(rc == SQLITE_DONE) << sqlite3_errmsg(db_) << " in " << sql;
    sqlite3_finalize(stmt);
    return ids;
  }

 private:
  void Exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    FUZZ_CHECK(rc == SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

Table& TableFor(size_t schema_index) {
  static auto* tables = new std::map<size_t, std::unique_ptr<Table>>();
  std::unique_ptr<Table>& t = (*tables)[schema_index];
  if (t == nullptr) t = std::make_unique<Table>(*Schemas()[schema_index]);
  return *t;
}

// The literal values the filter compares each field with.
void CollectLiterals(const CheckedNode& node,
                     std::map<int, std::vector<SqlValue>>* out) {
  if (node.kind == FilterExpr::Kind::kComparison) {
    (*out)[node.comparison.field_index].push_back(node.comparison.value);
    return;
  }
  for (const CheckedNode& child : node.children) CollectLiterals(child, out);
}

int64_t Clamp(double d) {
  if (!(d > -9.2e18)) return std::numeric_limits<int64_t>::min();
  if (!(d < 9.2e18)) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(d);
}

int64_t Add(int64_t v, int64_t delta) {
  int64_t out;
  return __builtin_add_overflow(v, delta, &out) ? v : out;
}

// A value near `literal` (equal, just below or just above) that `field`'s
// column can hold.
SqlValue Near(const FieldSchema& field, const SqlValue& literal, int how) {
  const int delta = how % 3 - 1;  // -1, 0, +1
  switch (field.kind) {
    case FieldKind::kString: {
      std::string s = std::get<std::string>(literal);
      if (delta < 0 && !s.empty()) s.pop_back();
      if (delta > 0) s.push_back(how % 2 ? 'a' : '\x7f');
      return s;
    }
    case FieldKind::kEnum:
      return literal;
    case FieldKind::kBool:
      return int64_t{(std::get<int64_t>(literal) + (delta != 0)) % 2};
    case FieldKind::kInt64:
      if (const auto* d = std::get_if<double>(&literal)) {
        // An integer column compared as double: integers around it.
        const double base = delta < 0 ? std::floor(*d) : std::ceil(*d);
        return Add(Clamp(base), delta);
      }
      return Add(std::get<int64_t>(literal), delta);
    case FieldKind::kTimestamp:
      return Add(std::get<int64_t>(literal), delta);
    case FieldKind::kDouble: {
      const double d = std::get<double>(literal);
      if (delta == 0) return d;
      const double next = std::nextafter(
          d, delta < 0 ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity());
      return std::isfinite(next) ? next : d;
    }
  }
  return literal;
}

// A value of `field`'s kind when the filter does not mention it.
SqlValue Default(const FieldSchema& field, uint64_t r) {
  switch (field.kind) {
    case FieldKind::kString: {
      static const char* const kStrings[] = {"", "a", "Z", "é", "a\x7f"};
      return std::string(kStrings[r % 5]);
    }
    case FieldKind::kEnum: {
      const auto* type = field.descriptor->enum_type();
      return type->value(static_cast<int>(r % type->value_count()))->name();
    }
    case FieldKind::kBool:
      return static_cast<int64_t>(r % 2);
    case FieldKind::kInt64:
    case FieldKind::kTimestamp: {
      static const int64_t kInts[] = {0,
                                      1,
                                      -1,
                                      1700000000000000,
                                      std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max()};
      return kInts[r % 6];
    }
    case FieldKind::kDouble: {
      static const double kDoubles[] = {0.0, -0.0, 1.5, -1e300, 1e300};
      return kDoubles[r % 5];
    }
  }
  return std::monostate();
}

std::vector<Record> MakeRecords(const model::ObjectSchema& schema,
                                const CheckedFilter& filter, uint32_t seed) {
  std::map<int, std::vector<SqlValue>> literals;
  if (!filter.empty()) CollectLiterals(*filter.root(), &literals);
  std::mt19937_64 rng(seed);
  std::vector<Record> records(kRecords);
  for (int r = 0; r < kRecords; ++r) {
    records[r].id = absl::StrCat("r", r);
    records[r].version = 1;
    for (size_t i = 0; i < schema.fields().size(); ++i) {
      const FieldSchema& field = schema.fields()[i];
      auto it = literals.find(static_cast<int>(i));
      const uint64_t roll = rng();
      if (it != literals.end() && roll % 4 != 0) {
        const SqlValue& lit = it->second[(roll >> 8) % it->second.size()];
        records[r].values.push_back(
            Near(field, lit, static_cast<int>((roll >> 16) % 6)));
      } else {
        records[r].values.push_back(Default(field, roll >> 8));
      }
    }
  }
  return records;
}

// Checks the representation invariants of every comparison.
void CheckNode(const CheckedNode& node, const model::ObjectSchema& schema,
               const FieldAccess& access) {
  switch (node.kind) {
    case FilterExpr::Kind::kAnd:
    case FilterExpr::Kind::kOr:
      FUZZ_CHECK(node.children.size() >= 2);
      for (const auto& c : node.children) CheckNode(c, schema, access);
      return;
    case FilterExpr::Kind::kNot:
      FUZZ_CHECK(node.children.size() == 1);
      CheckNode(node.children[0], schema, access);
      return;
    case FilterExpr::Kind::kComparison:
      break;
  }
  const CheckedComparison& c = node.comparison;
  FUZZ_CHECK(c.field_index >= 0 &&
             static_cast<size_t>(c.field_index) < schema.fields().size());
  const FieldSchema& field = schema.fields()[c.field_index];
  FUZZ_CHECK(access(field)) << "refused field " << field.name << " was used";
  FUZZ_CHECK(c.column == field.name && c.kind == field.kind);
  const bool equality = c.op == CompareOp::kEq || c.op == CompareOp::kNe;
  switch (field.kind) {
    case FieldKind::kString:
      FUZZ_CHECK(std::holds_alternative<std::string>(c.value));
      FUZZ_CHECK(!c.column_as_double);
      break;
    case FieldKind::kEnum:
      FUZZ_CHECK(equality);
      FUZZ_CHECK(std::holds_alternative<std::string>(c.value));
      FUZZ_CHECK(field.descriptor->enum_type()->FindValueByName(
                     std::get<std::string>(c.value)) != nullptr);
      break;
    case FieldKind::kBool: {
      FUZZ_CHECK(equality);
      const auto* i = std::get_if<int64_t>(&c.value);
      FUZZ_CHECK(i != nullptr && (*i == 0 || *i == 1));
      break;
    }
    case FieldKind::kInt64:
      FUZZ_CHECK(c.column_as_double ? std::holds_alternative<double>(c.value)
                                    : std::holds_alternative<int64_t>(c.value));
      break;
    case FieldKind::kDouble:
      FUZZ_CHECK(std::holds_alternative<double>(c.value));
      FUZZ_CHECK(!c.column_as_double);
      break;
    case FieldKind::kTimestamp: {
      const auto* i = std::get_if<int64_t>(&c.value);
      FUZZ_CHECK(i != nullptr);
      FUZZ_CHECK(*i >= int64_t{-62135596800} * 1000000 &&
                 *i <= int64_t{253402300799} * 1000000 + 999999)
          << *i;
      break;
    }
  }
  if (const auto* d = std::get_if<double>(&c.value)) {
    FUZZ_CHECK(std::isfinite(*d));
  }
}

void CheckSqlText(const model::SqlFragment& sql) {
  FUZZ_CHECK(static_cast<size_t>(std::count(sql.sql.begin(), sql.sql.end(),
                                            '?')) == sql.params.size())
      << sql.sql;
  FUZZ_CHECK(sql.sql.find('\'') == std::string::npos) << sql.sql;
}

bool SameSql(const model::SqlFragment& a, const model::SqlFragment& b) {
  if (a.sql != b.sql || a.params.size() != b.params.size()) return false;
  for (size_t i = 0; i < a.params.size(); ++i) {
    const auto* da = std::get_if<double>(&a.params[i]);
    const auto* db = std::get_if<double>(&b.params[i]);
    if (da != nullptr && db != nullptr) {
      if (std::memcmp(da, db, sizeof(double)) != 0) return false;
    } else if (a.params[i] != b.params[i]) {
      return false;
    }
  }
  return true;
}

void CheckRefusal(const absl::Status& s, absl::string_view text) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument)
      << s << " for " << Escaped(text);
  FUZZ_CHECK(absl::StartsWith(s.message(), "filter: "))
      << s << " for " << Escaped(text);
}

void Differential(const model::ObjectSchema& schema, size_t schema_index,
                  const CheckedFilter& filter, uint32_t seed,
                  absl::string_view text) {
  const std::vector<Record> records = MakeRecords(schema, filter, seed);
  Table& table = TableFor(schema_index);
  table.Reset(records);

  CheckedNode negated;
  negated.kind = FilterExpr::Kind::kNot;
  negated.children.push_back(*filter.root());
  const CheckedFilter not_filter(filter.collection(), std::move(negated));

  std::vector<std::string> matched, not_matched;
  for (const Record& r : records) {
    const bool m = Matches(filter, r);
    const bool n = Matches(not_filter, r);
    FUZZ_CHECK(m != n) << "f and NOT f on record " << r.id << " of "
                       << Escaped(text);
    (m ? matched : not_matched).push_back(r.id);
  }
  const model::SqlFragment sql = ToSql(filter);
  const std::vector<std::string> from_sql = table.Select(sql);
  FUZZ_CHECK(from_sql == matched)
      << "SQL selects [" << absl::StrJoin(from_sql, ",") << "], Matches ["
      << absl::StrJoin(matched, ",") << "] for " << Escaped(text)
      << "\n  SQL: " << sql.sql;
  const std::vector<std::string> not_from_sql = table.Select(ToSql(not_filter));
  FUZZ_CHECK(not_from_sql == not_matched)
      << "NOT: SQL selects [" << absl::StrJoin(not_from_sql, ",")
      << "], Matches [" << absl::StrJoin(not_matched, ",") << "] for "
      << Escaped(text);
}

}  // namespace
}  // namespace crm::query

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::query;
  if (size < 4) return 0;
  const auto& schemas = Schemas();
  const size_t schema_index = data[0] % schemas.size();
  const crm::model::ObjectSchema& schema = *schemas[schema_index];
  const uint8_t refused_bits = data[1];
  const uint32_t seed = data[2] | (uint32_t{data[3]} << 8);
  const absl::string_view text(reinterpret_cast<const char*>(data) + 4,
                               size - 4);

  // Field indexes into schema.fields(); the lookup is by address.
  const auto* first = schema.fields().data();
  const FieldAccess restricted = [&](const crm::model::FieldSchema& f) {
    const size_t i = static_cast<size_t>(&f - first);
    return (refused_bits & (1u << (i % 8))) == 0;
  };

  absl::StatusOr<CheckedFilter> all =
      ParseAndCheckFilter(text, schema, AllFields());
  absl::StatusOr<CheckedFilter> some =
      ParseAndCheckFilter(text, schema, restricted);
  if (!all.ok()) {
    CheckRefusal(all.status(), text);
    FUZZ_CHECK(!some.ok()) << "refusing fields made " << Escaped(text)
                           << " pass: " << all.status();
    CheckRefusal(some.status(), text);
    return 0;
  }
  if (!some.ok()) {
    CheckRefusal(some.status(), text);
    // Only a refused field can make the difference, and it must read like
    // a field that does not exist.
    FUZZ_CHECK(absl::StartsWith(some.status().message(), "filter: field '") &&
               absl::StrContains(some.status().message(),
                                 "' is unknown or not readable at offset "))
        << "a refused field is reported differently from an unknown one: "
        << some.status();
  } else {
    FUZZ_CHECK(SameSql(ToSql(*all), ToSql(*some)));
  }
  if (all->empty()) return 0;
  FUZZ_CHECK(all->collection() == schema.collection());
  CheckNode(*all->root(), schema, AllFields());
  if (some.ok()) CheckNode(*some->root(), schema, restricted);

  const crm::model::SqlFragment sql = ToSql(*all);
  CheckSqlText(sql);
  const crm::model::SqlFragment aliased = ToSql(*all, "x");
  CheckSqlText(aliased);
  FUZZ_CHECK(aliased.params.size() == sql.params.size());

  // The canonical text means the same.
  absl::StatusOr<std::string> canonical = NormalizeFilter(text);
  FUZZ_CHECK(canonical.ok()) << canonical.status();
  if (canonical->size() <= kMaxFilterBytes) {
    absl::StatusOr<CheckedFilter> again =
        ParseAndCheckFilter(*canonical, schema, AllFields());
    FUZZ_CHECK(again.ok()) << again.status() << " for canonical "
                           << Escaped(*canonical);
    FUZZ_CHECK(SameSql(ToSql(*again), sql))
        << "canonical " << Escaped(*canonical) << " checks differently";
  }

  Differential(schema, schema_index, *all, seed, text);
  return 0;
}
