#include "store/provenance_store.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class ProvenanceStoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
  }
  void Tx(const std::function<absl::Status(Session&)>& fn) {
    absl::Status s = db_->InTransaction(fn);
    ASSERT_TRUE(s.ok()) << s;
  }
  absl::StatusOr<int64_t> Count(Session& s, const char* table) {
    return QueryInt(s, {absl::StrCat("SELECT COUNT(*) FROM ", table), {}},
                    "counting");
  }
};

FieldWriter Writer(const char* service, int64_t at) {
  return {"", service, "users/bob", "req-1", at};
}

TEST_P(ProvenanceStoreTest, LatestWriterPerFieldAndEveryChangeInHistory) {
  Tx([&](Session& s) {
    return ProvenanceStore::Record(
        s, "contacts", "c1", 1, "create", Writer("services/web", 10),
        {{"email", "dataSources/web-forms", "a@x.example", true},
         {"personal_phone", "dataSources/web-forms", "+44 1", false}});
  });
  Tx([&](Session& s) {
    return ProvenanceStore::Record(
        s, "contacts", "c1", 2, "update", Writer("services/billing", 20),
        {{"email", "dataSources/billing", "b@x.example", true}});
  });
  Tx([&](Session& s) -> absl::Status {
    auto p = ProvenanceStore::Provenance(s, "contacts", "c1");
    if (!p.ok()) return p.status();
    EXPECT_EQ(p->size(), 2u);
    if (p->size() != 2u) return absl::OkStatus();
    EXPECT_EQ((*p)[0].field, "email");
    EXPECT_EQ((*p)[0].writer.source, "dataSources/billing");
    EXPECT_EQ((*p)[0].writer.service, "services/billing");
    EXPECT_EQ((*p)[0].writer.written_at, 20);
    EXPECT_EQ((*p)[0].version, 2);
    EXPECT_EQ((*p)[1].field, "personal_phone");
    EXPECT_EQ((*p)[1].writer.request_id, "req-1");

    auto h = ProvenanceStore::History(s, "contacts", "c1",
                                      {"email", "personal_phone"}, 0, "", 10);
    if (!h.ok()) return h.status();
    EXPECT_EQ(h->size(), 3u);
    if (h->size() != 3u) return absl::OkStatus();
    EXPECT_EQ((*h)[0].field, "email");
    EXPECT_EQ((*h)[0].value, "a@x.example");
    EXPECT_EQ((*h)[0].operation, "create");
    // A sensitive field's value is never stored.
    EXPECT_EQ((*h)[1].field, "personal_phone");
    EXPECT_FALSE((*h)[1].value_recorded);
    EXPECT_EQ((*h)[1].value, "");
    EXPECT_EQ((*h)[2].version, 2);
    EXPECT_EQ((*h)[2].value, "b@x.example");
    // Only the fields asked for; paging after (version, field).
    auto email = ProvenanceStore::History(s, "contacts", "c1", {"email"}, 1,
                                          "email", 10);
    if (!email.ok()) return email.status();
    EXPECT_EQ(email->size(), 1u);
    auto none = ProvenanceStore::History(s, "contacts", "c1", {}, 0, "", 10);
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    return absl::OkStatus();
  });
  // No plaintext of the sensitive value anywhere in the tables.
  Tx([&](Session& s) -> absl::Status {
    auto n = QueryInt(
        s, {"SELECT COUNT(*) FROM field_history WHERE value LIKE '%+44%'", {}},
        "searching");
    if (!n.ok()) return n.status();
    EXPECT_EQ(*n, 0);
    return absl::OkStatus();
  });
}

TEST_P(ProvenanceStoreTest, RolledBackWithTheTransaction) {
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    absl::Status r = ProvenanceStore::Record(
        session, "accounts", "a1", 1, "create", Writer("services/web", 1),
        {{"display_name", "unregistered", "Acme", true}});
    if (!r.ok()) return r;
    // The record write fails after the provenance was written.
    return absl::FailedPreconditionError("the record write failed");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  Tx([&](Session& session) -> absl::Status {
    for (const char* table : {"field_provenance", "field_history"}) {
      auto n = Count(session, table);
      if (!n.ok()) return n.status();
      EXPECT_EQ(*n, 0) << table;
    }
    return absl::OkStatus();
  });
}

TEST_P(ProvenanceStoreTest, ForgetRemovesOneRecordOnly) {
  Tx([&](Session& s) -> absl::Status {
    for (const char* id : {"a1", "a2"}) {
      absl::Status r = ProvenanceStore::Record(
          s, "accounts", id, 1, "create", Writer("services/web", 1),
          {{"display_name", "unregistered", id, true}});
      if (!r.ok()) return r;
    }
    return ProvenanceStore::Forget(s, "accounts", "a1");
  });
  Tx([&](Session& s) -> absl::Status {
    auto gone = ProvenanceStore::Provenance(s, "accounts", "a1");
    if (!gone.ok()) return gone.status();
    EXPECT_TRUE(gone->empty());
    auto kept = ProvenanceStore::History(s, "accounts", "a2",
                                         {"display_name"}, 0, "", 10);
    if (!kept.ok()) return kept.status();
    EXPECT_EQ(kept->size(), 1u);
    auto n = Count(s, "field_history");
    if (!n.ok()) return n.status();
    EXPECT_EQ(*n, 1);
    return absl::OkStatus();
  });
}

// The export's and erasure's forms for many records: per record, in the
// single-record forms' order, the history limited per record; across more
// ids than one statement binds (kMaxParams).
TEST_P(ProvenanceStoreTest, ManyRecordsAtOnceAcrossChunks) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < kMaxParams + 5; ++i) {
    ids.push_back(absl::StrCat("a", i));
  }
  const std::string last = ids.back();
  Tx([&](Session& s) -> absl::Status {
    for (const std::string& id : {std::string("a1"), last}) {
      for (int64_t v = 1; v <= 3; ++v) {
        absl::Status r = ProvenanceStore::Record(
            s, "accounts", id, v, v == 1 ? "create" : "update",
            Writer("services/web", v),
            {{"display_name", "web", absl::StrCat(id, "-", v), true},
             {"website", "web", "w", true}});
        if (!r.ok()) return r;
      }
    }
    return absl::OkStatus();
  });
  Tx([&](Session& s) -> absl::Status {
    auto prov = ProvenanceStore::ProvenanceOf(s, "accounts", ids);
    if (!prov.ok()) return prov.status();
    EXPECT_EQ(prov->size(), 2u);
    for (const std::string& id : {std::string("a1"), last}) {
      auto one = ProvenanceStore::Provenance(s, "accounts", id);
      if (!one.ok()) return one.status();
      EXPECT_EQ((*prov)[id].size(), one->size()) << id;
      if ((*prov)[id].size() != one->size()) continue;
      for (size_t i = 0; i < one->size(); ++i) {
        EXPECT_EQ((*prov)[id][i].field, (*one)[i].field);
        EXPECT_EQ((*prov)[id][i].version, (*one)[i].version);
      }
    }
    auto hist = ProvenanceStore::HistoryOf(s, "accounts", ids,
                                           {"display_name"}, 2);
    if (!hist.ok()) return hist.status();
    EXPECT_EQ(hist->size(), 2u);
    for (const std::string& id : {std::string("a1"), last}) {
      const std::vector<HistoryRow>& rows = (*hist)[id];
      EXPECT_EQ(rows.size(), 2u) << id;  // the first 2 of 3
      if (rows.size() != 2u) continue;
      EXPECT_EQ(rows[0].version, 1);
      EXPECT_EQ(rows[0].value, absl::StrCat(id, "-1"));
      EXPECT_EQ(rows[1].version, 2);
      EXPECT_EQ(rows[1].field, "display_name");
    }
    auto none = ProvenanceStore::HistoryOf(s, "accounts", ids, {}, 10);
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    return ProvenanceStore::ForgetAll(s, "accounts", ids);
  });
  Tx([&](Session& s) -> absl::Status {
    for (const char* table : {"field_provenance", "field_history"}) {
      auto n = Count(s, table);
      if (!n.ok()) return n.status();
      EXPECT_EQ(*n, 0) << table;
    }
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, ProvenanceStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
