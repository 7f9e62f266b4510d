#include "store/record_store.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

using model::FieldKind;
using model::FieldSchema;
using model::ObjectSchema;
using model::Record;
using model::SqlFragment;
using model::SqlValue;

// A string of exactly `n` code points mixing 1- to 4-byte UTF-8 sequences.
std::string UnicodeString(size_t n) {
  static const char* const kPieces[] = {"a", "é", "漢", "🙂", "'", "\"", "?"};
  std::string out;
  for (size_t i = 0; i < n; ++i) out += kPieces[i % 7];
  return out;
}

// A value for every field, exercising each kind's edges; `variant` varies it.
SqlValue EdgeValue(const FieldSchema& field, int variant) {
  switch (field.kind) {
    case FieldKind::kString:
      return variant == 0 ? UnicodeString(field.max_length)
                          : absl::StrCat("v", variant, "-", field.name);
    case FieldKind::kInt64:
      return variant == 0 ? std::numeric_limits<int64_t>::max()
                          : std::numeric_limits<int64_t>::min() + variant;
    case FieldKind::kDouble:
      return variant == 0 ? 1.0 / 3.0 : -2.5e300 * variant;
    case FieldKind::kBool:
      return int64_t{variant % 2 == 0 ? 1 : 0};
    case FieldKind::kEnum: {
      const auto* e = field.descriptor->enum_type();
      return e->value(e->value_count() - 1 - variant % e->value_count())
          ->name();
    }
    case FieldKind::kTimestamp:
      return variant == 0 ? int64_t{1700000000123456}
                          : int64_t{-86400000001} * variant;
  }
  return std::monostate{};
}

std::unique_ptr<google::protobuf::Message> NewMessage(
    const ObjectSchema& schema) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(schema.descriptor())
          ->New());
}

// A message of the schema's type with every stored field set.
std::unique_ptr<google::protobuf::Message> FilledMessage(
    const ObjectSchema& schema, int variant) {
  auto message = NewMessage(schema);
  for (const FieldSchema& field : schema.fields()) {
    model::SetFieldValue(field, EdgeValue(field, variant), message.get());
  }
  return message;
}

class RecordStoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    store_ = std::make_unique<RecordStore>(db_.get());
    store_->SetEncryption(NewEncryptionOrDie());
  }

  const ObjectSchema& Schema(const std::string& collection) {
    const ObjectSchema* schema =
        model::SchemaRegistry::Default().Find(collection);
    EXPECT_NE(schema, nullptr) << collection;
    return *schema;
  }

  // An account with the given fields; the rest default.
  Record Account(const std::string& id, const std::string& display_name,
                 int64_t employee_count, int64_t create_time) {
    const ObjectSchema& schema = Schema("accounts");
    Record r;
    r.id = id;
    r.version = 1;
    for (const FieldSchema& f : schema.fields()) {
      r.values.push_back(model::FieldValue(f, *NewMessage(schema)));
    }
    r.values[schema.FieldIndex("display_name")] = display_name;
    r.values[schema.FieldIndex("employee_count")] = employee_count;
    r.values[schema.FieldIndex("create_time")] = create_time;
    return r;
  }

  std::vector<std::string> Ids(const std::vector<Record>& records) {
    std::vector<std::string> out;
    for (const Record& r : records) out.push_back(r.id);
    return out;
  }

  std::unique_ptr<RecordStore> store_;
};

TEST_P(RecordStoreTest, RoundTripsEveryResourceTypeExactly) {
  for (const ObjectSchema* schema : model::SchemaRegistry::Default().All()) {
    for (int variant = 0; variant < 3; ++variant) {
      SCOPED_TRACE(absl::StrCat(schema->collection(), " variant ", variant));
      auto original = FilledMessage(*schema, variant);
      Record record = model::RecordFromMessage(*schema, *original);
      record.id = absl::StrCat("id-", variant, "-ü");
      record.version = 1;
      ASSERT_TRUE(store_->Insert(*schema, record).ok());

      auto got = store_->Get(*schema, record.id);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(got->has_value());
      EXPECT_EQ((*got)->id, record.id);
      EXPECT_EQ((*got)->version, 1);
      ASSERT_EQ((*got)->values.size(), record.values.size());
      for (size_t i = 0; i < record.values.size(); ++i) {
        EXPECT_EQ((*got)->values[i], record.values[i])
            << schema->fields()[i].name << ": got "
            << model::DebugString((*got)->values[i]).substr(0, 80)
            << " want " << model::DebugString(record.values[i]).substr(0, 80);
      }
      auto back = NewMessage(*schema);
      model::RecordToMessage(*schema, **got, back.get());
      model::RecordToMessage(*schema, record, original.get());  // name, etag
      std::string diff;
      google::protobuf::util::MessageDifferencer differencer;
      differencer.ReportDifferencesToString(&diff);
      EXPECT_TRUE(differencer.Compare(*original, *back)) << diff;
    }
  }
}

TEST_P(RecordStoreTest, GetMissingIsEmptyAndExistsAgrees) {
  const ObjectSchema& accounts = Schema("accounts");
  auto got = store_->Get(accounts, "nope");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
  ASSERT_TRUE(store_->Insert(accounts, Account("a1", "A", 1, 1)).ok());
  EXPECT_EQ(store_->Exists(accounts, "a1").value_or(false), true);
  EXPECT_EQ(store_->Exists(accounts, "a2").value_or(true), false);
}

TEST_P(RecordStoreTest, InsertValidatesAndRejectsDuplicates) {
  const ObjectSchema& accounts = Schema("accounts");
  Record r = Account("dup", "A", 1, 1);
  ASSERT_TRUE(store_->Insert(accounts, r).ok());
  absl::Status s = store_->Insert(accounts, r);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(s.message(), "accounts/dup already exists");

  Record bad_version = Account("b1", "A", 1, 1);
  bad_version.version = 2;
  EXPECT_EQ(store_->Insert(accounts, bad_version).code(),
            absl::StatusCode::kInvalidArgument);
  Record bad_type = Account("b2", "A", 1, 1);
  bad_type.values[accounts.FieldIndex("employee_count")] = std::string("x");
  EXPECT_EQ(store_->Insert(accounts, bad_type).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RecordStoreTest, UpdateIfVersionChangesOnlyNamedColumns) {
  const ObjectSchema& accounts = Schema("accounts");
  ASSERT_TRUE(store_->Insert(accounts, Account("a1", "Old", 5, 100)).ok());
  Record change = Account("a1", "New", 99, 777);
  const int name_index = accounts.FieldIndex("display_name");
  auto updated = store_->UpdateIfVersion(accounts, "a1", 1, {name_index},
                                         change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(*updated);
  auto got = store_->Get(accounts, "a1");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->version, 2);
  EXPECT_EQ((*got)->values[name_index], SqlValue(std::string("New")));
  EXPECT_EQ((*got)->values[accounts.FieldIndex("employee_count")],
            SqlValue(int64_t{5}));
  EXPECT_EQ((*got)->values[accounts.FieldIndex("create_time")],
            SqlValue(int64_t{100}));
}

TEST_P(RecordStoreTest, StaleVersionChangesNothing) {
  const ObjectSchema& accounts = Schema("accounts");
  ASSERT_TRUE(store_->Insert(accounts, Account("a1", "Old", 5, 100)).ok());
  Record change = Account("a1", "New", 99, 777);
  std::vector<int> all;
  for (size_t i = 0; i < accounts.fields().size(); ++i) all.push_back(i);
  auto updated = store_->UpdateIfVersion(accounts, "a1", 7, all, change);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(*updated);
  auto missing = store_->UpdateIfVersion(accounts, "zz", 1, all, change);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(*missing);
  auto got = store_->Get(accounts, "a1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->version, 1);
  EXPECT_EQ((*got)->values, Account("a1", "Old", 5, 100).values);

  EXPECT_EQ(store_->UpdateIfVersion(accounts, "a1", 1, {-1}, change)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RecordStoreTest, DeleteIfVersion) {
  const ObjectSchema& accounts = Schema("accounts");
  ASSERT_TRUE(store_->Insert(accounts, Account("a1", "A", 1, 1)).ok());
  EXPECT_EQ(store_->DeleteIfVersion(accounts, "a1", 2).value_or(true), false);
  EXPECT_EQ(store_->DeleteIfVersion(accounts, "a1", 1).value_or(false), true);
  EXPECT_EQ(store_->Exists(accounts, "a1").value_or(true), false);
  EXPECT_EQ(store_->DeleteIfVersion(accounts, "a1", 1).value_or(true), false);
}

// The multi-record forms (erasure and retention batches) across a chunk
// boundary: more ids than one statement may bind (kMaxParams).
TEST_P(RecordStoreTest, GetAllUpdateAllAndDeleteAllSpanChunks) {
  const ObjectSchema& accounts = Schema("accounts");
  const int n = static_cast<int>(kMaxParams) + 30;
  ASSERT_TRUE(db_->InTransaction([&](Session& s) -> absl::Status {
                   for (int i = 0; i < n; ++i) {
                     absl::Status r = store_->Insert(
                         s, accounts,
                         Account(absl::StrCat("a", i), "Name", i, 1));
                     if (!r.ok()) return r;
                   }
                   return absl::OkStatus();
                 }).ok());
  // Order of the ids asked for; a missing id is skipped, a repeated one
  // returned once.
  std::vector<std::string> ids;
  for (int i = n - 1; i >= 0; --i) ids.push_back(absl::StrCat("a", i));
  std::vector<std::string> asked = ids;
  asked.insert(asked.begin() + 5, "missing");
  asked.push_back("a0");
  ASSERT_TRUE(db_->WithSession([&](Session& s) -> absl::Status {
                   auto got = store_->GetAll(s, accounts, asked);
                   if (!got.ok()) return got.status();
                   EXPECT_EQ(Ids(*got), ids);
                   auto none = store_->GetAll(s, accounts, {});
                   if (!none.ok()) return none.status();
                   EXPECT_TRUE(none->empty());
                   return absl::OkStatus();
                 }).ok());

  // Every record at version 1 except a5 (moved to 2 first): one stale.
  Record change = Account("x", "Erased", 0, 0);
  const int name = accounts.FieldIndex("display_name");
  ASSERT_TRUE(store_->UpdateIfVersion(accounts, "a5", 1, {name}, change)
                  .value_or(false));
  std::vector<RecordVersion> versions;
  for (int i = 0; i < n; ++i) versions.push_back({absl::StrCat("a", i), 1});
  ASSERT_TRUE(db_->InTransaction([&](Session& s) -> absl::Status {
                   auto updated = store_->UpdateAllIfVersion(
                       s, accounts, versions, {name}, change);
                   if (!updated.ok()) return updated.status();
                   EXPECT_EQ(*updated, n - 1);
                   return absl::OkStatus();
                 }).ok());
  for (int i : {0, 5, n - 30, n - 1}) {
    const std::string id = absl::StrCat("a", i);
    auto got = store_->Get(accounts, id);
    ASSERT_TRUE(got.ok() && got->has_value()) << id;
    EXPECT_EQ((*got)->version, 2) << id;
    EXPECT_EQ((*got)->values[name], SqlValue(std::string("Erased"))) << id;
    EXPECT_EQ((*got)->values[accounts.FieldIndex("employee_count")],
              SqlValue(int64_t{i}))
        << id;
  }

  // Delete at version 2, with one stale version and one missing id.
  for (RecordVersion& v : versions) v.version = 2;
  versions[7].version = 1;
  versions.push_back({"missing", 1});
  ASSERT_TRUE(db_->InTransaction([&](Session& s) -> absl::Status {
                   auto deleted =
                       store_->DeleteAllIfVersion(s, accounts, versions);
                   if (!deleted.ok()) return deleted.status();
                   EXPECT_EQ(*deleted, n - 1);
                   return absl::OkStatus();
                 }).ok());
  EXPECT_TRUE(store_->Exists(accounts, "a7").value_or(false));
  EXPECT_FALSE(
      store_->Exists(accounts, absl::StrCat("a", n - 1)).value_or(true));
  EXPECT_EQ(store_->Count(accounts, {}).value_or(-1), 1);
}

// A sensitive field's non-empty value is encrypted per record (its
// associated data names the record): each record reads back its value.
TEST_P(RecordStoreTest, UpdateAllEncryptsASensitiveValuePerRecord) {
  const ObjectSchema& contacts = Schema("contacts");
  auto message = FilledMessage(contacts, 1);
  Record base = model::RecordFromMessage(contacts, *message);
  base.version = 1;
  std::vector<RecordVersion> versions;
  for (const char* id : {"c1", "c2"}) {
    Record r = base;
    r.id = id;
    ASSERT_TRUE(store_->Insert(contacts, r).ok()) << id;
    versions.push_back({id, 1});
  }
  const int phone = contacts.FieldIndex("personal_phone");
  ASSERT_TRUE(contacts.fields()[phone].sensitive);
  Record change = base;
  change.values[phone] = std::string("+1 555");
  ASSERT_TRUE(db_->InTransaction([&](Session& s) -> absl::Status {
                   auto updated = store_->UpdateAllIfVersion(
                       s, contacts, versions, {phone}, change);
                   if (!updated.ok()) return updated.status();
                   EXPECT_EQ(*updated, 2);
                   return absl::OkStatus();
                 }).ok());
  for (const char* id : {"c1", "c2"}) {
    auto got = store_->Get(contacts, id);
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
    EXPECT_EQ((*got)->values[phone], SqlValue(std::string("+1 555"))) << id;
  }
}

TEST_P(RecordStoreTest, ListFiltersOrdersAndLimits) {
  const ObjectSchema& accounts = Schema("accounts");
  // a0..a9: employee_count i % 3, create_time 10 * (i % 5).
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_
                    ->Insert(accounts, Account(absl::StrCat("a", i),
                                               absl::StrCat("n", i), i % 3,
                                               10 * (i % 5)))
                    .ok());
  }
  ListQuery q;
  // a1 (10), a4 (40), a7 (20)
  q.where.Append("\"employee_count\" = ?", {int64_t{1}});
  q.order = {{"create_time", true}};
  q.limit = 2;
  auto page = store_->List(accounts, q);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Ids(*page), (std::vector<std::string>{"a4", "a7"}));

  // Ties on create_time are broken by id in the last term's direction.
  q.where = {};
  q.limit = 4;
  auto ties = store_->List(accounts, q);
  ASSERT_TRUE(ties.ok()) << ties.status();
  EXPECT_EQ(Ids(*ties), (std::vector<std::string>{"a9", "a4", "a8", "a3"}));
  q.order = {{"create_time", false}};
  auto asc = store_->List(accounts, q);
  ASSERT_TRUE(asc.ok()) << asc.status();
  EXPECT_EQ(Ids(*asc), (std::vector<std::string>{"a0", "a5", "a1", "a6"}));

  // Byte order for text on both backends ("B" < "a" < "é").
  ASSERT_TRUE(store_->Insert(accounts, Account("x1", "é", 7, 0)).ok());
  ASSERT_TRUE(store_->Insert(accounts, Account("x2", "B", 7, 0)).ok());
  ASSERT_TRUE(store_->Insert(accounts, Account("x3", "a", 7, 0)).ok());
  q.where = {"\"employee_count\" = ?", {int64_t{7}}};
  q.order = {{"display_name", false}};
  auto bytes = store_->List(accounts, q);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(Ids(*bytes), (std::vector<std::string>{"x2", "x3", "x1"}));

  q.order = {{"no_such_column", false}};
  EXPECT_EQ(store_->List(accounts, q).status().code(),
            absl::StatusCode::kInvalidArgument);
  q.order = {};
  q.limit = 0;
  EXPECT_EQ(store_->List(accounts, q).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto count = store_->Count(accounts, {"\"employee_count\" = ?", {int64_t{0}}});
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, 4);  // a0 a3 a6 a9
  EXPECT_EQ(store_->Count(accounts, {}).value_or(-1), 13);
}

// ListQuery::fetch is only another plan: the same rows in the same order
// for every where, order (text in byte order included) and limit, whether
// the fetch holds every matching row or fills up (max_rows) and the
// ordinary form answers.
TEST_P(RecordStoreTest, FetchThenSortListsTheSameRows) {
  const ObjectSchema& accounts = Schema("accounts");
  const char* names[] = {"B", "a", "\xC3\xA9", "b", "A"};
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_
                    ->Insert(accounts,
                             Account(absl::StrCat("a", i), names[i % 5], i % 3,
                                     10 * (i % 7)))
                    .ok());
  }
  std::vector<SqlFragment> wheres = {
      {},
      {"\"employee_count\" = ?", {int64_t{1}}},
      {"\"employee_count\" <> ? AND \"id\" IN (SELECT \"id\" FROM "
       "\"accounts\" WHERE \"create_time\" >= ?)",
       {int64_t{2}, int64_t{20}}},
      {"1 = 0", {}}};
  std::vector<std::vector<model::OrderTerm>> orders = {
      {},
      {{"create_time", true}},
      {{"display_name", false}, {"create_time", true}},
      {{"id", true}}};
  int compared = 0;
  for (const SqlFragment& where : wheres) {
    for (const auto& order : orders) {
      for (int limit : {1, 7, 100}) {
        ListQuery walk{where, order, limit};
        auto a = store_->List(accounts, walk);
        ASSERT_TRUE(a.ok()) << a.status();
        for (int64_t max_rows : {1, 5, 40, 1000}) {
          ListQuery fetch = walk;
          fetch.fetch = ListQuery::FetchThenSort{where, max_rows};
          auto b = store_->List(accounts, fetch);
          ASSERT_TRUE(b.ok()) << b.status();
          EXPECT_EQ(Ids(*a), Ids(*b)) << where.sql << " limit " << limit
                                      << " max_rows " << max_rows;
        }
        compared += !a->empty();
      }
    }
  }
  EXPECT_GT(compared, 30);
  // And the rows themselves, not only their ids.
  ListQuery all{{}, {{"display_name", true}}, 100};
  auto a = store_->List(accounts, all);
  all.fetch = ListQuery::FetchThenSort{{}, 100};
  auto b = store_->List(accounts, all);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 40u);
  ASSERT_EQ(b->size(), 40u);
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].values, (*b)[i].values) << (*a)[i].id;
  }
  all.fetch->max_rows = 0;
  EXPECT_EQ(store_->List(accounts, all).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// PostgreSQL: the table's size and distinct owners from its statistics,
// once analyzed, cached for kEstimateMaxAge. SQLite: unknown.
TEST_P(RecordStoreTest, EstimateReadsTheStatistics) {
  const ObjectSchema& accounts = Schema("accounts");
  const int owner = accounts.FieldIndex("owner");
  ASSERT_GE(owner, 0);
  for (int i = 0; i < 300; ++i) {
    Record r = Account(absl::StrCat("a", i), "n", 1, i);
    r.values[owner] = absl::StrCat("users/u", i % 30);
    ASSERT_TRUE(store_->Insert(accounts, r).ok());
  }
  auto estimate = [&](RecordStore& store) {
    TableEstimate e;
    absl::Status s = db_->WithSession([&](Session& session) {
      auto r = store.Estimate(session, accounts);
      if (!r.ok()) return r.status();
      e = *r;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return e;
  };
  if (GetParam() != testing::Backend::kPostgres) {
    EXPECT_FALSE(estimate(*store_).known());
    return;
  }
  // Before any ANALYZE, unless autovacuum's came first: unknown, or right.
  RecordStore early(db_.get());
  TableEstimate before = estimate(early);
  ASSERT_TRUE(db_->WithSession([](Session& session) {
                   return Execute(session, {"ANALYZE \"accounts\"", {}},
                                  "analyzing").status();
                 }).ok());
  // Within kEstimateMaxAge the store keeps what it read.
  TableEstimate cached = estimate(early);
  EXPECT_EQ(cached.rows, before.rows);
  EXPECT_EQ(cached.distinct_owners, before.distinct_owners);
  RecordStore other(db_.get());
  TableEstimate e = estimate(other);
  ASSERT_TRUE(e.known());
  EXPECT_EQ(e.rows, 300);
  EXPECT_EQ(e.distinct_owners, 30);
}

// Read-modify-write with retry on version conflict: no update may be lost.
TEST_P(RecordStoreTest, ConcurrentIncrementsLoseNoUpdate) {
  const ObjectSchema& accounts = Schema("accounts");
  ASSERT_TRUE(store_->Insert(accounts, Account("ctr", "Counter", 0, 0)).ok());
  const int index = accounts.FieldIndex("employee_count");
  constexpr int kThreads = 8;
  constexpr int kIncrements = 25;
  std::atomic<int> failures{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          bool applied = false;
          absl::Status s = db_->InTransaction([&](Session& session) {
            auto rec = store_->Get(session, accounts, "ctr");
            if (!rec.ok()) return rec.status();
            if (!rec->has_value()) return absl::NotFoundError("ctr");
            Record next = **rec;
            next.values[index] = std::get<int64_t>(next.values[index]) + 1;
            auto ok = store_->UpdateIfVersion(session, accounts, "ctr",
                                              next.version, {index}, next);
            if (!ok.ok()) return ok.status();
            applied = *ok;
            return absl::OkStatus();
          });
          if (!s.ok()) {
            ++failures;
            return;
          }
          if (applied) break;
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = store_->Get(accounts, "ctr");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->values[index], SqlValue(int64_t{kThreads * kIncrements}))
      << conflicts.load() << " version conflicts were retried";
  EXPECT_EQ((*got)->version, 1 + kThreads * kIncrements);
}

// Point reads keep their statements prepared on the connection
// (Reuse::kCached). A connection that ran a cached Exists (one row read of a
// COUNT, the statement not stepped to its end) and a cached Get must still
// see another connection's later write: the statements are reset after
// use, so no read snapshot outlives the call.
TEST_P(RecordStoreTest, CachedStatementsSeeLaterWritesOfOtherConnections) {
  const ObjectSchema& accounts = Schema("accounts");
  ASSERT_TRUE(store_->Insert(accounts, Account("a1", "Acme", 1, 100)).ok());
  auto reader_db = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(reader_db.ok()) << reader_db.status();
  RecordStore reader(reader_db->get());
  for (int round = 1; round <= 3; ++round) {
    auto exists = reader.Exists(accounts, "a1");
    ASSERT_TRUE(exists.ok() && *exists) << exists.status();
    auto got = reader.Get(accounts, "a1");
    ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
    EXPECT_EQ((*got)->version, round);
    Record change = Account("a1", absl::StrCat("Acme ", round), 1, 100);
    auto updated = store_->UpdateIfVersion(
        accounts, "a1", round, {accounts.FieldIndex("display_name")}, change);
    ASSERT_TRUE(updated.ok() && *updated) << updated.status();
  }
  auto got = reader.Get(accounts, "a1");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->version, 4);
  EXPECT_EQ((*got)->values[accounts.FieldIndex("display_name")],
            SqlValue(std::string("Acme 3")));
}

// A cached statement that failed (a duplicate INSERT, inside a transaction
// that then rolls back) leaves the connection's statements usable: the
// same INSERT, Get and Delete run again, inside and outside transactions.
TEST_P(RecordStoreTest, CachedStatementsSurviveFailuresAndRollbacks) {
  const ObjectSchema& accounts = Schema("accounts");
  // One connection, so every call below reuses the same cached statements.
  auto one = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(one.ok()) << one.status();
  RecordStore records(one->get());
  ASSERT_TRUE(records.Insert(accounts, Account("a1", "Acme", 1, 100)).ok());
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::Status s = (*one)->InTransaction([&](Session& session) {
      auto got = records.Get(session, accounts, "a1");
      if (!got.ok()) return got.status();
      EXPECT_TRUE(got->has_value());
      return records.Insert(session, accounts, Account("a1", "Dup", 1, 100));
    });
    EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  }
  absl::Status s = (*one)->InTransaction([&](Session& session) {
    absl::Status inserted =
        records.Insert(session, accounts, Account("a2", "Beta", 2, 200));
    if (!inserted.ok()) return inserted;
    auto got = records.Get(session, accounts, "a2");
    if (!got.ok()) return got.status();
    EXPECT_TRUE(got->has_value());
    return absl::AbortedError("roll back on purpose");
  });
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  auto gone = records.Get(accounts, "a2");
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->has_value());
  ASSERT_TRUE(records.Insert(accounts, Account("a2", "Beta", 2, 200)).ok());
  auto deleted = records.DeleteIfVersion(accounts, "a2", 1);
  ASSERT_TRUE(deleted.ok() && *deleted) << deleted.status();
  auto again = records.Get(accounts, "a1");
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status();
  EXPECT_EQ((*again)->values[accounts.FieldIndex("display_name")],
            SqlValue(std::string("Acme")));
}

// CountSubsetsInSnapshot gives CountSubsets' figures for each statement;
// SharedTo selects the records with a share to one of the grantees, at any
// access. A failed statement rolls the read transaction back: the
// connection serves the next call.
TEST_P(RecordStoreTest, CountSubsetsInSnapshotAndSharedTo) {
  const ObjectSchema& accounts = Schema("accounts");
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store_
                    ->Insert(accounts, Account(absl::StrCat("a", i),
                                               absl::StrCat("n", i), i % 2, 0))
                    .ok());
  }
  ASSERT_TRUE(db_->WithSession([](Session& session) -> absl::Status {
                   int n = 0;
                   for (const auto& [record, grantee, access] :
                        std::vector<std::tuple<std::string, std::string,
                                               int64_t>>{
                            {"a1", "users/u1", 1},
                            {"a2", "users/u1", 2},
                            {"a2", "groups/g1", 1},
                            {"a3", "users/u2", 1},
                            {"a4", "groups/g1", 2}}) {
                     auto st = Execute(
                         session,
                         {"INSERT INTO record_shares (id, object, record_id, "
                          "grantee, access) VALUES (?, 'accounts', ?, ?, ?)",
                          {absl::StrCat("s", n++), record, grantee, access}},
                         "sharing");
                     if (!st.ok()) return st.status();
                   }
                   return absl::OkStatus();
                 }).ok());
  const SqlFragment odd = {"\"employee_count\" = ?", {int64_t{1}}};
  // a1, a2, a4 (a3 is shared to another user; a2 twice).
  const SqlFragment shared =
      RecordStore::SharedTo(accounts, {"users/u1", "groups/g1"});
  // One connection: the failure below and the call after it share it.
  auto one = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(one.ok()) << one.status();
  RecordStore records(one->get());
  absl::StatusOr<std::vector<std::vector<int64_t>>> n;
  auto count = [&](const std::vector<RecordStore::SubsetCount>& counts) {
    return (*one)->WithSession([&](Session& session) {
      n = records.CountSubsetsInSnapshot(session, accounts, counts);
      return n.status();
    });
  };
  ASSERT_TRUE(count({{{}, {odd}}, {shared, {odd, {}}}}).ok()) << n.status();
  EXPECT_EQ(*n, (std::vector<std::vector<int64_t>>{{6, 3}, {3, 1, 3}}));
  EXPECT_EQ(RecordStore::SharedTo(accounts, {}).sql, "1 = 0");

  absl::Status failed = count({{odd, {}}, {{"no_such_column = 1", {}}, {}}});
  EXPECT_FALSE(failed.ok());
  ASSERT_TRUE(count({{odd, {shared}}}).ok()) << n.status();
  EXPECT_EQ(*n, (std::vector<std::vector<int64_t>>{{3, 1}}));
  // Not left inside a transaction: a write commits on its own.
  ASSERT_TRUE(records.Insert(accounts, Account("a9", "n9", 1, 0)).ok());
  EXPECT_EQ(store_->Count(accounts, odd).value_or(-1), 4);
}

// SQLite (no statistics) reads the records of SharedTo from the shares'
// (object, grantee, record_id) index and the primary key, not by scanning
// the table.
TEST_P(RecordStoreTest, SharedToIsReadFromTheSharesIndexOnSqlite) {
  if (db_->dialect() != Dialect::kSqlite) GTEST_SKIP() << "SQLite plan";
  const ObjectSchema& accounts = Schema("accounts");
  SqlFragment q;
  q.Append("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM accounts WHERE ");
  q.Append(RecordStore::SharedTo(accounts, {"users/u1", "groups/g1"}));
  std::string plan;
  ASSERT_TRUE(db_->WithSession([&](Session& session) -> absl::Status {
                   auto rows = Query(session, q, "explaining");
                   if (!rows.ok()) return rows.status();
                   for (const Row& row : *rows) {
                     absl::StrAppend(&plan,
                                     std::get<std::string>(row.back()), "\n");
                   }
                   return absl::OkStatus();
                 }).ok());
  EXPECT_NE(plan.find("record_shares_grantee_idx"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("SCAN accounts"), std::string::npos) << plan;
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
