#include "store/consent_store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class ConsentStoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
  }
  absl::Status Set(const char* id, const char* channel, const char* purpose,
                   const char* state, int64_t current, const char* previous,
                   int64_t at, ConsentRow* out = nullptr) {
    return db_->InTransaction([&](Session& s) -> absl::Status {
      ConsentRow row;
      row.channel = channel;
      row.purpose = purpose;
      row.state = state;
      row.source = "dataSources/web-forms";
      row.service = "services/web-forms";
      row.actor = "services/web-forms";
      row.request_id = "req";
      row.updated_at = at;
      auto r = ConsentStore::Set(s, "contacts", id, current, previous, row);
      if (!r.ok()) return r.status();
      if (out != nullptr) *out = *r;
      return absl::OkStatus();
    });
  }
};

TEST_P(ConsentStoreTest, StateVersionAndAppendOnlyHistory) {
  ConsentRow first;
  ASSERT_TRUE(
      Set("c1", "email", "marketing", kOptedIn, 0, kUnknownConsent, 10, &first)
          .ok());
  EXPECT_EQ(first.version, 1);
  ASSERT_TRUE(Set("c1", "email", "marketing", kOptedOut, 1, kOptedIn, 20).ok());
  ASSERT_TRUE(Set("c1", "post", "service", kOptedIn, 0, kUnknownConsent, 30).ok());
  // A stale version is a lost race (ABORTED); nothing is written.
  absl::Status stale =
      Set("c1", "email", "marketing", kOptedIn, 1, kOptedOut, 40);
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  // So is a second insert of an entry that exists.
  absl::Status twice =
      Set("c1", "post", "service", kOptedOut, 0, kUnknownConsent, 50);
  EXPECT_TRUE(absl::IsAborted(twice)) << twice;

  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto all = ConsentStore::Get(session, "contacts", "c1");
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 2u);
    if (all->size() != 2u) return absl::OkStatus();
    EXPECT_EQ((*all)[0].channel, "email");
    EXPECT_EQ((*all)[0].state, kOptedOut);
    EXPECT_EQ((*all)[0].version, 2);
    EXPECT_EQ((*all)[0].updated_at, 20);
    EXPECT_EQ((*all)[0].source, "dataSources/web-forms");
    EXPECT_EQ((*all)[1].channel, "post");
    auto one = ConsentStore::GetOne(session, "contacts", "c1", "sms",
                                    "marketing");
    if (!one.ok()) return one.status();
    EXPECT_FALSE(one->has_value());

    auto h = ConsentStore::History(session, "contacts", "c1", 0, 2);
    if (!h.ok()) return h.status();
    EXPECT_EQ(h->size(), 2u);
    if (h->size() != 2u) return absl::OkStatus();
    EXPECT_EQ((*h)[0].sequence, 1);
    EXPECT_EQ((*h)[0].entry.state, kOptedIn);
    EXPECT_EQ((*h)[1].entry.state, kOptedOut);
    EXPECT_EQ((*h)[1].previous_state, kOptedIn);
    auto rest = ConsentStore::History(session, "contacts", "c1", 2, 10);
    if (!rest.ok()) return rest.status();
    EXPECT_EQ(rest->size(), 1u);
    if (rest->size() == 1u) {
      EXPECT_EQ((*rest)[0].entry.channel, "post");
    }

    auto out = ConsentStore::OptedOutChannels(session, "contacts",
                                              {"c1", "c2"}, {"marketing"});
    if (!out.ok()) return out.status();
    EXPECT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)["c1"], std::vector<std::string>{"email"});
    auto none = ConsentStore::OptedOutChannels(session, "contacts", {"c1"},
                                               {"service"});
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST_P(ConsentStoreTest, ForgetRemovesOneRecordsConsentAndHistory) {
  ASSERT_TRUE(Set("c1", "email", "marketing", kOptedIn, 0, kUnknownConsent, 1).ok());
  ASSERT_TRUE(Set("c2", "email", "marketing", kOptedIn, 0, kUnknownConsent, 2).ok());
  ASSERT_TRUE(db_->InTransaction([](Session& s) {
                   return ConsentStore::Forget(s, "contacts", "c1");
                 }).ok());
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto gone = ConsentStore::Get(session, "contacts", "c1");
    if (!gone.ok()) return gone.status();
    EXPECT_TRUE(gone->empty());
    auto h = ConsentStore::History(session, "contacts", "c1", 0, 10);
    if (!h.ok()) return h.status();
    EXPECT_TRUE(h->empty());
    auto kept = ConsentStore::History(session, "contacts", "c2", 0, 10);
    if (!kept.ok()) return kept.status();
    EXPECT_EQ(kept->size(), 1u);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST_P(ConsentStoreTest, GetAllReadsManyRecordsAsGetDoes) {
  ASSERT_TRUE(Set("c1", "email", "marketing", kOptedIn, 0, kUnknownConsent, 1).ok());
  ASSERT_TRUE(Set("c1", "sms", "service", kOptedOut, 0, kUnknownConsent, 2).ok());
  ASSERT_TRUE(Set("c3", "email", "marketing", kOptedOut, 0, kUnknownConsent, 3).ok());
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto all = ConsentStore::GetAll(session, "contacts", {"c1", "c2", "c3"});
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 2u);  // c2 has none
    for (const char* id : {"c1", "c3"}) {
      auto one = ConsentStore::Get(session, "contacts", id);
      if (!one.ok()) return one.status();
      const std::vector<ConsentRow>& many = (*all)[id];
      EXPECT_EQ(many.size(), one->size()) << id;
      for (size_t i = 0; i < many.size() && i < one->size(); ++i) {
        EXPECT_EQ(many[i].channel, (*one)[i].channel);
        EXPECT_EQ(many[i].purpose, (*one)[i].purpose);
        EXPECT_EQ(many[i].state, (*one)[i].state);
        EXPECT_EQ(many[i].version, (*one)[i].version);
      }
    }
    auto none = ConsentStore::GetAll(session, "leads", {"c1"});
    if (!none.ok()) return none.status();
    EXPECT_TRUE(none->empty());
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
