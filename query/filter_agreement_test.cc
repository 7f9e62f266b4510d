// The SQL and in-memory evaluators must agree: generated records go into a
// real in-memory SQLite table shaped like the store's (model/object_schema.h
// mapping), and for many generated filters the ids selected by ToSql must be
// exactly those for which Matches is true. Likewise keyset pagination
// (KeysetAfter/OrderBySql) against an in-memory sort and AfterKey.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "query/checked_filter.h"
#include "query/keyset.h"
#include "query/test_schema.h"
#include "query/value_compare.h"

namespace crm::query {
namespace {

using model::FieldKind;
using model::Record;
using model::SqlValue;

const std::vector<std::string>& TrickyStrings() {
  static const auto* v = new std::vector<std::string>{
      "",   " ",       "a",        "A",           "b",         "B",
      "ab", "abc",     "abc ",     "ABC",         "Abc",       "ä",
      "Ä",  "z",       "Z",        "Zürich",      "zurich",    "日本",
      "😀",  "O'Brien", "quote\"d", "back\\slash", "tab\there", "line\nbreak",
      "~",  "DE",      "de"};
  return *v;
}

const std::vector<int64_t>& TrickyInts() {
  static const auto* v =
      new std::vector<int64_t>{0,
                               1,
                               -1,
                               2,
                               42,
                               -42,
                               1000,
                               std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max(),
                               (int64_t{1} << 53) + 1,
                               int64_t{1} << 53,
                               -((int64_t{1} << 53) + 1)};
  return *v;
}

const std::vector<double>& TrickyDoubles() {
  static const auto* v = new std::vector<double>{
      0.0,   -0.0,      1.5,   -2.25,   3.0, 1e15,
      -1e15, 123456.75, 1e300, -1e-300, 0.1, 9007199254740993.0};
  return *v;
}

const std::vector<int64_t>& TrickyTimestamps() {
  static const auto* v = new std::vector<int64_t>{
      0,
      -1,
      1,
      1704067200000000,
      1704067200000001,
      1704067199999999,
      -62135596800000000,  // 0001-01-01T00:00:00Z
      253402300799999999,  // 9999-12-31T23:59:59.999999Z
      951782400000000,     // 2000-02-29T00:00:00Z
  };
  return *v;
}

template <typename T>
const T& Pick(const std::vector<T>& v, std::mt19937_64& rng) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

std::vector<std::string> EnumNames(const model::FieldSchema& f) {
  std::vector<std::string> names;
  const auto* type = f.descriptor->enum_type();
  for (int i = 0; i < type->value_count(); ++i) {
    names.push_back(type->value(i)->name());
  }
  return names;
}

SqlValue RandomValue(const model::FieldSchema& f, std::mt19937_64& rng) {
  switch (f.kind) {
    case FieldKind::kString:
      return Pick(TrickyStrings(), rng);
    case FieldKind::kInt64:
      return Pick(TrickyInts(), rng);
    case FieldKind::kDouble:
      return Pick(TrickyDoubles(), rng);
    case FieldKind::kBool:
      return int64_t(rng() % 2);
    case FieldKind::kEnum:
      return Pick(EnumNames(f), rng);
    case FieldKind::kTimestamp:
      return Pick(TrickyTimestamps(), rng);
  }
  return std::monostate();
}

std::string Quote(const std::string& s, std::mt19937_64& rng) {
  const char q = rng() % 2 ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == q || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  out.push_back(q);
  return out;
}

std::string DoubleLiteral(double d) {
  // %.17g round-trips; make sure it reads as a decimal, not an integer.
  std::string s = absl::StrFormat("%.17g", d);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// A literal of the field's type, in filter syntax.
std::string RandomLiteral(const model::FieldSchema& f, std::mt19937_64& rng) {
  switch (f.kind) {
    case FieldKind::kString:
      return Quote(Pick(TrickyStrings(), rng), rng);
    case FieldKind::kInt64:
      if (rng() % 3 == 0) {  // decimal against an integer column
        const double ds[] = {2.5,  -0.5,  41.99, 9007199254740992.0,
                             1e19, -1e19, 0.0};
        return DoubleLiteral(ds[rng() % 7]);
      }
      return absl::StrCat(Pick(TrickyInts(), rng));
    case FieldKind::kDouble:
      if (rng() % 3 == 0) return absl::StrCat(Pick(TrickyInts(), rng));
      return DoubleLiteral(Pick(TrickyDoubles(), rng));
    case FieldKind::kBool:
      return rng() % 2 ? "true" : "false";
    case FieldKind::kEnum: {
      std::string name = Pick(EnumNames(f), rng);
      return rng() % 2 ? name : Quote(name, rng);
    }
    case FieldKind::kTimestamp: {
      int64_t micros = Pick(TrickyTimestamps(), rng);
      if (rng() % 4 == 0 && micros > -62135596800000000) micros -= 1;
      return Quote(
          absl::FormatTime(absl::RFC3339_full, absl::FromUnixMicros(micros),
                           absl::UTCTimeZone()),
          rng);
    }
  }
  return "";
}

std::string RandomFilter(const model::ObjectSchema& schema, int depth,
                         std::mt19937_64& rng) {
  const int choice = depth >= 3 ? 0 : static_cast<int>(rng() % 5);
  if (choice <= 1) {
    // Sensitive fields are encrypted at rest: never in a filter.
    const model::FieldSchema* picked = &Pick(schema.fields(), rng);
    while (picked->sensitive) picked = &Pick(schema.fields(), rng);
    const model::FieldSchema& f = *picked;
    const bool equality_only =
        f.kind == FieldKind::kEnum || f.kind == FieldKind::kBool;
    const char* ops[] = {"=", "!=", "<", "<=", ">", ">="};
    const char* op = ops[rng() % (equality_only ? 2 : 6)];
    return absl::StrCat(f.name, " ", op, " ", RandomLiteral(f, rng));
  }
  if (choice == 2)
    return absl::StrCat("NOT (", RandomFilter(schema, depth + 1, rng), ")");
  return absl::StrCat("(", RandomFilter(schema, depth + 1, rng),
                      choice == 3 ? ") AND (" : ") OR (",
                      RandomFilter(schema, depth + 1, rng), ")");
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

// An in-memory SQLite database holding one table shaped like the store's.
class Table {
 public:
  explicit Table(const model::ObjectSchema& schema) : schema_(schema) {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    std::vector<std::string> columns = {"id TEXT PRIMARY KEY",
                                        "version BIGINT NOT NULL"};
    for (const auto& f : schema.fields()) {
      columns.push_back(absl::StrCat(model::QuoteIdentifier(f.name), " ",
                                     ColumnType(f.kind), " NOT NULL"));
    }
    Exec(absl::StrCat("CREATE TABLE ", schema.collection(), " (",
                      absl::StrJoin(columns, ", "), ")"));
  }
  ~Table() { sqlite3_close(db_); }

  void Insert(const Record& r) {
    model::SqlFragment f;
    std::vector<std::string> marks(r.values.size() + 2, "?");
    f.Append(absl::StrCat("INSERT INTO ", schema_.collection(), " VALUES (",
                          absl::StrJoin(marks, ", "), ")"),
             {r.id, r.version});
    for (const auto& v : r.values) f.params.push_back(v);
    Query(f);
  }

  // Runs `f` and returns the first column of every row.
  std::vector<std::string> Query(const model::SqlFragment& f) {
    sqlite3_stmt* stmt = nullptr;
    std::vector<std::string> out;
    if (sqlite3_prepare_v2(db_, f.sql.c_str(), -1, &stmt, nullptr) !=
        SQLITE_OK) {
      ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << f.sql;
      return out;
    }
    for (size_t i = 0; i < f.params.size(); ++i) Bind(stmt, i + 1, f.params[i]);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      out.push_back(
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db_) << " in " << f.sql;
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  void Exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }

  static void Bind(sqlite3_stmt* stmt, size_t i, const SqlValue& v) {
    const int n = static_cast<int>(i);
    if (const auto* x = std::get_if<int64_t>(&v)) {
      sqlite3_bind_int64(stmt, n, *x);
    } else if (const auto* d = std::get_if<double>(&v)) {
      sqlite3_bind_double(stmt, n, *d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      sqlite3_bind_text(stmt, n, s->data(), static_cast<int>(s->size()),
                        SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(stmt, n);
    }
  }

  const model::ObjectSchema& schema_;
  sqlite3* db_ = nullptr;
};

std::vector<Record> GenerateRecords(const model::ObjectSchema& schema, int n,
                                    std::mt19937_64& rng) {
  std::vector<Record> records;
  for (int i = 0; i < n; ++i) {
    Record r;
    // Ids of varying length so byte order differs from numeric order.
    r.id = absl::StrCat("r", rng() % 1000, "_", i);
    r.version = 1;
    for (const auto& f : schema.fields())
      r.values.push_back(RandomValue(f, rng));
    records.push_back(std::move(r));
  }
  return records;
}

class Agreement : public ::testing::TestWithParam<const char*> {
 protected:
  const model::ObjectSchema& Schema() {
    if (std::string(GetParam()) == "widgets") return testing::WidgetSchema();
    return *model::SchemaRegistry::Default().Find(GetParam());
  }
};

TEST_P(Agreement, ToSqlSelectsExactlyWhatMatchesAccepts) {
  const model::ObjectSchema& schema = Schema();
  std::mt19937_64 rng(20240101);
  Table table(schema);
  const std::vector<Record> records = GenerateRecords(schema, 300, rng);
  for (const Record& r : records) table.Insert(r);

  int non_trivial = 0;
  for (int i = 0; i < 1500; ++i) {
    const std::string text = RandomFilter(schema, 0, rng);
    absl::StatusOr<CheckedFilter> filter =
        ParseAndCheckFilter(text, schema, AllFields());
    ASSERT_TRUE(filter.ok()) << text << ": " << filter.status();
    model::SqlFragment sql;
    sql.Append(absl::StrCat("SELECT id FROM ", schema.collection(), " WHERE "));
    sql.Append(ToSql(*filter));
    sql.Append(" ORDER BY id");
    std::vector<std::string> from_sql = table.Query(sql);
    std::vector<std::string> from_memory;
    for (const Record& r : records) {
      if (Matches(*filter, r)) from_memory.push_back(r.id);
    }
    std::sort(from_memory.begin(), from_memory.end());
    ASSERT_EQ(from_sql, from_memory)
        << "filter: " << text << "\nSQL: " << sql.sql;
    if (!from_sql.empty() && from_sql.size() < records.size()) ++non_trivial;
  }
  // The generator must produce filters that actually discriminate.
  EXPECT_GT(non_trivial, 300);
}

// Sort key values of `r` for `order`.
std::vector<SqlValue> Key(const model::ObjectSchema& schema,
                          const std::vector<model::OrderTerm>& order,
                          const Record& r) {
  std::vector<SqlValue> key;
  for (const auto& t : order)
    key.push_back(r.values[schema.FieldIndex(t.column)]);
  return key;
}

TEST_P(Agreement, KeysetPagesMatchTheSortOrder) {
  const model::ObjectSchema& schema = Schema();
  std::mt19937_64 rng(7);
  Table table(schema);
  const std::vector<Record> records = GenerateRecords(schema, 200, rng);
  for (const Record& r : records) table.Insert(r);

  for (int round = 0; round < 40; ++round) {
    std::vector<model::OrderTerm> order;
    std::set<std::string> used;
    const int terms = static_cast<int>(rng() % 4);  // 0..3
    for (int i = 0; i < terms; ++i) {
      const auto& f = Pick(schema.fields(), rng);
      if (!used.insert(f.name).second) continue;
      order.push_back({f.name, rng() % 2 == 0});
    }
    const std::string order_sql = OrderBySql(order);
    // In-memory order: the same rule as ORDER BY.
    std::vector<Record> sorted = records;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const Record& a, const Record& b) {
                       std::vector<SqlValue> ka = Key(schema, order, a);
                       std::vector<SqlValue> kb = Key(schema, order, b);
                       for (size_t i = 0; i < order.size(); ++i) {
                         int c = *CompareSqlValues(ka[i], kb[i]);
                         if (c != 0) return order[i].descending ? c > 0 : c < 0;
                       }
                       return IdDescending(order) ? a.id > b.id : a.id < b.id;
                     });
    std::vector<std::string> expected;
    for (const Record& r : sorted) expected.push_back(r.id);
    model::SqlFragment all;
    all.Append(absl::StrCat("SELECT id FROM ", schema.collection(),
                            " ORDER BY ", order_sql));
    ASSERT_EQ(table.Query(all), expected) << order_sql;

    // Walk pages of 7 with KeysetAfter; check AfterKey on every row.
    std::vector<std::string> walked;
    std::optional<Record> last;
    while (true) {
      model::SqlFragment page;
      page.Append(absl::StrCat("SELECT id FROM ", schema.collection()));
      if (last) {
        page.Append(" WHERE ");
        page.Append(KeysetAfter(order, Key(schema, order, *last), last->id));
        size_t last_pos =
            std::find(expected.begin(), expected.end(), last->id) -
            expected.begin();
        for (size_t i = 0; i < sorted.size(); ++i) {
          ASSERT_EQ(AfterKey(order, Key(schema, order, *last), last->id,
                             Key(schema, order, sorted[i]), sorted[i].id),
                    i > last_pos)
              << order_sql << " row " << i << " last " << last_pos;
        }
      }
      page.Append(absl::StrCat(" ORDER BY ", order_sql, " LIMIT 7"));
      std::vector<std::string> ids = table.Query(page);
      if (ids.empty()) break;
      walked.insert(walked.end(), ids.begin(), ids.end());
      for (const Record& r : records) {
        if (r.id == ids.back()) last = r;
      }
    }
    ASSERT_EQ(walked, expected) << order_sql;
  }
}

INSTANTIATE_TEST_SUITE_P(Schemas, Agreement,
                         ::testing::Values("accounts", "opportunities",
                                           "activities", "widgets"));

}  // namespace
}  // namespace crm::query
