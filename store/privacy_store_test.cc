#include "store/privacy_store.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "store/provenance_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class PrivacyStoreTest : public BackendTest {
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
  // A contact row with the columns that matter here.
  void Contact(const std::string& id, const std::string& email,
               const std::string& phone, int64_t update_time) {
    Tx([&](Session& s) {
      return Execute(s,
                     {"INSERT INTO contacts (id, version, create_time, "
                      "update_time, owner, source, first_name, last_name, "
                      "email, phone, title, account, mailing_city, "
                      "mailing_country, personal_phone, description) VALUES "
                      "(?, 1, 0, ?, 'users/u', 'services/s', 'F', 'L', ?, ?, "
                      "'', '', '', '', '', '')",
                      {id, update_time, email, phone}},
                     "test")
          .status();
    });
  }
  const model::ObjectSchema& Contacts() {
    return *model::SchemaRegistry::Default().Find("contacts");
  }
};

TEST_P(PrivacyStoreTest, FindsAPersonByNormalizedEmailOrPhone) {
  Contact("c1", " Ada@Example.com ", "", 0);
  Contact("c2", "other@example.com", "+44 1", 0);
  Contact("c3", "", "ADA@example.com", 0);
  Tx([&](Session& s) -> absl::Status {
    auto ids = PrivacyStore::FindByFields(s, Contacts(), {"email", "phone"},
                                          "ada@example.com");
    if (!ids.ok()) return ids.status();
    EXPECT_THAT(*ids, ElementsAre("c1", "c3"));
    auto none = PrivacyStore::FindByFields(s, Contacts(), {"email"}, "+44 1");
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    auto bad = PrivacyStore::FindByFields(s, Contacts(), {"nope"}, "x");
    EXPECT_FALSE(bad.ok());
    return absl::OkStatus();
  });
}

TEST_P(PrivacyStoreTest, ScrubsOnlyTheNamedFieldsHistoryValues) {
  Tx([&](Session& s) {
    return ProvenanceStore::Record(
        s, "contacts", "c1", 1, "create", {"", "services/s", "users/u", "", 1},
        {{"email", "x", "ada@example.com", true},
         {"title", "x", "CTO", true}});
  });
  Tx([&](Session& s) -> absl::Status {
    auto n = PrivacyStore::CountHistoryValues(s, "contacts", {"c1"}, {"email"});
    if (!n.ok()) return n.status();
    EXPECT_THAT(*n, ElementsAre(Pair("c1", 1)));
    auto all = PrivacyStore::CountHistoryValues(s, "contacts", {"c1"}, {});
    if (!all.ok()) return all.status();
    EXPECT_THAT(*all, ElementsAre(Pair("c1", 2)));
    auto scrubbed =
        PrivacyStore::ScrubHistoryValues(s, "contacts", {"c1"}, {"email"});
    if (!scrubbed.ok()) return scrubbed.status();
    EXPECT_EQ(*scrubbed, 1);
    auto h = ProvenanceStore::History(s, "contacts", "c1", {"email", "title"},
                                      0, "", 10);
    if (!h.ok()) return h.status();
    EXPECT_EQ(h->size(), 2u);  // the entries stay, without the value
    for (const HistoryRow& r : *h) {
      if (r.field == "email") {
        EXPECT_FALSE(r.value_recorded);
        EXPECT_EQ(r.value, "");
      } else {
        EXPECT_EQ(r.value, "CTO");
      }
    }
    return absl::OkStatus();
  });
}

// A batch of an erasure or a retention run: records with shares and
// history next to records with none, more ids than one statement binds
// (kMaxParams), another object's rows untouched.
TEST_P(PrivacyStoreTest, SharesAndHistoryOfABatchAcrossChunks) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < kMaxParams + 10; ++i) {
    ids.push_back(absl::StrCat("c", i));
  }
  const std::string last = ids.back();
  Tx([&](Session& s) -> absl::Status {
    for (const std::string& id : {std::string("c1"), last}) {
      if (absl::Status r = ProvenanceStore::Record(
              s, "contacts", id, 1, "create",
              {"", "services/s", "users/u", "", 1},
              {{"email", "x", "a@example.com", true},
               {"title", "x", "CTO", true}});
          !r.ok()) {
        return r;
      }
    }
    int n = 0;
    for (const auto& [object, id] :
         std::vector<std::pair<std::string, std::string>>{
             {"contacts", "c1"}, {"contacts", "c1"}, {"contacts", last},
             {"leads", "c1"}}) {
      auto r = Execute(s,
                       {"INSERT INTO record_shares (id, object, record_id, "
                        "grantee, access) VALUES (?, ?, ?, 'users/u', 1)",
                        {absl::StrCat("s", n++), object, id}},
                       "test");
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
  Tx([&](Session& s) -> absl::Status {
    auto counted = PrivacyStore::CountShares(s, "contacts", ids);
    if (!counted.ok()) return counted.status();
    EXPECT_THAT(*counted, ElementsAre(Pair("c1", 2), Pair(last, 1)));
    auto history =
        PrivacyStore::CountHistoryValues(s, "contacts", ids, {"email"});
    if (!history.ok()) return history.status();
    EXPECT_THAT(*history, ElementsAre(Pair("c1", 1), Pair(last, 1)));
    auto removed = PrivacyStore::RemoveShares(s, "contacts", ids);
    if (!removed.ok()) return removed.status();
    EXPECT_THAT(*removed, ElementsAre(Pair("c1", 2), Pair(last, 1)));
    auto scrubbed = PrivacyStore::ScrubHistoryValues(s, "contacts", ids, {});
    if (!scrubbed.ok()) return scrubbed.status();
    EXPECT_EQ(*scrubbed, 4);
    // Done: nothing left to count; the lead's share stays.
    auto again = PrivacyStore::RemoveShares(s, "contacts", ids);
    if (!again.ok()) return again.status();
    EXPECT_TRUE(again->empty());
    auto none = PrivacyStore::CountHistoryValues(s, "contacts", ids, {});
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    auto lead = PrivacyStore::CountShares(s, "leads", {"c1"});
    if (!lead.ok()) return lead.status();
    EXPECT_THAT(*lead, ElementsAre(Pair("c1", 1)));
    auto empty = PrivacyStore::CountShares(s, "contacts", {});
    if (!empty.ok()) return empty.status();
    EXPECT_TRUE(empty->empty());
    return absl::OkStatus();
  });
}

TEST_P(PrivacyStoreTest, TheFirstReceiptOfAPseudonymStands) {
  Tx([&](Session& s) {
    return PrivacyStore::StoreErasure(s, {"r1", "subjects/a", 5, "body1"},
                                      {"subjects/a", "subjects/b"});
  });
  Tx([&](Session& s) {
    return PrivacyStore::StoreErasure(s, {"r2", "subjects/c", 6, "body2"},
                                      {"subjects/b", "subjects/c"});
  });
  Tx([&](Session& s) -> absl::Status {
    for (const auto& [p, want] :
         std::vector<std::pair<std::string, std::string>>{
             {"subjects/a", "r1"}, {"subjects/b", "r1"}, {"subjects/c", "r2"}}) {
      auto got = PrivacyStore::FindErasure(s, p);
      if (!got.ok()) return got.status();
      EXPECT_EQ(got->value_or(""), want) << p;
    }
    auto none = PrivacyStore::FindErasure(s, "subjects/z");
    if (!none.ok()) return none.status();
    EXPECT_FALSE(none->has_value());
    auto r = PrivacyStore::GetReceipt(s, "r2");
    if (!r.ok()) return r.status();
    EXPECT_TRUE(r->has_value());
    if (r->has_value()) {
      EXPECT_EQ((*r)->receipt, "body2");
    }
    return absl::OkStatus();
  });
}

TEST_P(PrivacyStoreTest, RetentionCandidatesAreOldAndNotYetAnonymized) {
  Contact("old", "a@x", "", 100);
  Contact("old-done", "", "", 100);
  Contact("young", "b@x", "", 1000);
  Tx([&](Session& s) -> absl::Status {
    auto ids = PrivacyStore::RetentionCandidates(s, Contacts(), 500,
                                                 {"email", "phone"},
                                                 "[erased]", "", 10);
    if (!ids.ok()) return ids.status();
    EXPECT_THAT(*ids, ElementsAre("old"));
    auto every = PrivacyStore::RetentionCandidates(s, Contacts(), 500, {},
                                                   "[erased]", "", 10);
    if (!every.ok()) return every.status();
    EXPECT_THAT(*every, ElementsAre("old", "old-done"));
    auto after = PrivacyStore::RetentionCandidates(s, Contacts(), 500, {},
                                                   "[erased]", "old", 10);
    if (!after.ok()) return after.status();
    EXPECT_THAT(*after, ElementsAre("old-done"));
    auto n = PrivacyStore::CountRetentionCandidates(s, Contacts(), 2000, {},
                                                    "[erased]");
    if (!n.ok()) return n.status();
    EXPECT_EQ(*n, 3);
    return absl::OkStatus();
  });
}

TEST_P(PrivacyStoreTest, OneSessionAtATimeHoldsTheRetentionLock) {
  if (GetParam() != testing::Backend::kPostgres) {
    GTEST_SKIP() << "SQLite: one process per file; no database lock";
  }
  absl::Status s = db_->WithSession([&](Session& first) -> absl::Status {
    auto a = PrivacyStore::TryRetentionLock(first);
    if (!a.ok()) return a.status();
    EXPECT_TRUE(*a);
    absl::Status inner = db_->WithSession([&](Session& second) -> absl::Status {
      auto b = PrivacyStore::TryRetentionLock(second);
      if (!b.ok()) return b.status();
      EXPECT_FALSE(*b) << "two sessions hold the retention lock";
      return absl::OkStatus();
    });
    if (!inner.ok()) return inner;
    if (absl::Status r = PrivacyStore::ReleaseRetentionLock(first); !r.ok()) {
      return r;
    }
    return db_->WithSession([&](Session& second) -> absl::Status {
      auto b = PrivacyStore::TryRetentionLock(second);
      if (!b.ok()) return b.status();
      EXPECT_TRUE(*b) << "released, so free";
      return PrivacyStore::ReleaseRetentionLock(second);
    });
  });
  ASSERT_TRUE(s.ok()) << s;
}

INSTANTIATE_TEST_SUITE_P(Backends, PrivacyStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
