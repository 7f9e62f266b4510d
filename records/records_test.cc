// The record lifecycle (record_ops.h, sharing.h) on a real database, both
// backends, without gRPC or mTLS: a policy::Evaluator on the small test
// organisation of policy/policy_test_org.h, an injected clock, and the test
// seam Deps::before_conditional_write to make another writer win a race
// deterministically.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/clock.h"
#include "crm/v1/crm_service.pb.h"
#include "crm/v1/sharing_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/record.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "query/page_token.h"
#include "records/deps.h"
#include "records/record_ops.h"
#include "records/sharing.h"
#include "store/policy_store.h"
#include "store/record_store.h"
#include "store/store_test_fixture.h"

namespace crm::records {
namespace {

using crm::v1::Account;
using ::testing::HasSubstr;

constexpr int64_t kStartMicros = 1700000000000000;

const model::ObjectSchema& Accounts() {
  return *model::SchemaRegistry::Default().Find("accounts");
}

class RecordsTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<store::RecordStore>(db_.get());
    deps_.database = db_.get();
    deps_.records = store_.get();
    deps_.page_tokens = &tokens_;
    deps_.clock = &clock_;
  }

  // The web service acting as itself (every object permission, sees all),
  // or on behalf of `user` of the test organisation.
  policy::Evaluator Eval(const std::string& user = "") const {
    return policy::Evaluator(snapshot_, {"web", user});
  }

  Account CreateOrDie(const std::string& display_name,
                      const std::string& user = "") {
    crm::v1::CreateAccountRequest req;
    req.mutable_account()->set_display_name(display_name);
    Account out;
    absl::Status s = Create(deps_, Eval(user), Accounts(), req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  absl::StatusOr<Account> GetAccount(const std::string& name,
                                     const std::string& user = "") {
    crm::v1::GetAccountRequest req;
    req.set_name(name);
    Account out;
    absl::Status s = Get(deps_, Eval(user), Accounts(), req, &out);
    if (!s.ok()) return s;
    return out;
  }

  absl::Status Rename(const std::string& name, const std::string& display_name,
                      const std::string& etag, Account* out) {
    crm::v1::UpdateAccountRequest req;
    req.mutable_account()->set_name(name);
    req.mutable_account()->set_display_name(display_name);
    req.mutable_account()->set_etag(etag);
    req.mutable_update_mask()->add_paths("display_name");
    return Update(deps_, Eval(), Accounts(), req, out);
  }

  absl::Status Remove(const std::string& name, const std::string& etag) {
    crm::v1::DeleteAccountRequest req;
    req.set_name(name);
    req.set_etag(etag);
    return Delete(deps_, Eval(), Accounts(), req);
  }

  // Installs a "competing writer": on its first `times` calls the seam bumps
  // the record's version inside the write's transaction, so the conditional
  // write that follows finds another version (and the transaction is rolled
  // back, taking the competing change with it).
  void CompeteOnFirst(const std::string& name, int times) {
    const std::string id = name.substr(name.find('/') + 1);
    deps_.before_conditional_write = [this, id,
                                      times](store::Session& session) {
      if (++seam_calls_ > times) return absl::OkStatus();
      auto current = store_->Get(session, Accounts(), id);
      if (!current.ok()) return current.status();
      if (!current->has_value()) return absl::InternalError("no record");
      auto ok = store_->UpdateIfVersion(session, Accounts(), id,
                                        (*current)->version, {}, **current);
      if (!ok.ok()) return ok.status();
      return *ok ? absl::OkStatus() : absl::InternalError("bump lost");
    };
  }

  std::shared_ptr<const policy::PolicySnapshot> snapshot_ =
      policy::testing::TestSnapshot();
  auth::FakeClock clock_{absl::FromUnixMicros(kStartMicros)};
  query::PageTokenCodec tokens_{std::string(32, 'k')};
  std::unique_ptr<store::RecordStore> store_;
  Deps deps_;
  int seam_calls_ = 0;
};

TEST_P(RecordsTest, CreateStampsOwnerTimesAndSourceOverTheRequest) {
  crm::v1::CreateAccountRequest req;
  Account* in = req.mutable_account();
  in->set_display_name("Acme");
  // Output-only fields in the request are ignored.
  in->set_owner("users/mallory");
  in->set_source("services/elsewhere");
  in->set_name("accounts/chosen");
  Account created;
  ASSERT_TRUE(Create(deps_, Eval("alice"), Accounts(), req, &created).ok());
  EXPECT_EQ(created.display_name(), "Acme");
  EXPECT_EQ(created.owner(), "users/alice");
  EXPECT_EQ(created.source(), "services/web");
  EXPECT_NE(created.name(), "accounts/chosen");
  EXPECT_EQ(model::TimestampMicros(created.create_time()), kStartMicros);
  EXPECT_EQ(model::TimestampMicros(created.update_time()), kStartMicros);
  EXPECT_EQ(created.etag(), model::EtagOf(1));

  // The service acting as itself owns what it creates.
  EXPECT_EQ(CreateOrDie("Self").owner(), "services/web");

  // Stored as answered.
  auto got = GetAccount(created.name(), "alice");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->owner(), "users/alice");
  EXPECT_EQ(got->source(), "services/web");
}

TEST_P(RecordsTest, UpdateStampsUpdateTimeAndSourceKeepsOwner) {
  Account created = CreateOrDie("Acme", "alice");
  clock_.Advance(absl::Seconds(5));
  Account updated;
  ASSERT_TRUE(Rename(created.name(), "Acme 2", "", &updated).ok());
  EXPECT_EQ(updated.display_name(), "Acme 2");
  EXPECT_EQ(updated.owner(), "users/alice");
  EXPECT_EQ(updated.source(), "services/web");
  EXPECT_EQ(model::TimestampMicros(updated.create_time()), kStartMicros);
  EXPECT_EQ(model::TimestampMicros(updated.update_time()),
            kStartMicros + 5000000);
  EXPECT_EQ(updated.etag(), model::EtagOf(2));
}

TEST_P(RecordsTest, StaleEtagIsAbortedAndNothingIsWritten) {
  Account created = CreateOrDie("Acme");
  Account v2;
  ASSERT_TRUE(Rename(created.name(), "Second", created.etag(), &v2).ok());

  Account out;
  absl::Status s = Rename(created.name(), "Stale", created.etag(), &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("was changed since etag ",
                                                  created.etag())));
  s = Remove(created.name(), created.etag());
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;

  auto got = GetAccount(created.name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->display_name(), "Second");
  EXPECT_EQ(got->etag(), v2.etag());
}

TEST_P(RecordsTest, CurrentEtagIsAccepted) {
  Account created = CreateOrDie("Acme");
  Account v2;
  ASSERT_TRUE(Rename(created.name(), "Second", created.etag(), &v2).ok());
  EXPECT_EQ(v2.etag(), model::EtagOf(2));
  EXPECT_TRUE(Remove(created.name(), v2.etag()).ok());
  EXPECT_EQ(GetAccount(created.name()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(RecordsTest, UpdateWithoutEtagRetriesALostRace) {
  Account created = CreateOrDie("Acme");
  CompeteOnFirst(created.name(), 2);
  Account out;
  absl::Status s = Rename(created.name(), "Winner", "", &out);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seam_calls_, 3);  // lost twice, then written
  EXPECT_EQ(out.display_name(), "Winner");
  auto got = GetAccount(created.name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->display_name(), "Winner");
  EXPECT_EQ(got->etag(), model::EtagOf(2));
}

TEST_P(RecordsTest, UpdateWithEtagDoesNotRetryALostRace) {
  Account created = CreateOrDie("Acme");
  CompeteOnFirst(created.name(), 1);
  Account out;
  absl::Status s = Rename(created.name(), "Loser", created.etag(), &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_THAT(s.message(), HasSubstr("was changed by another writer"));
  EXPECT_EQ(seam_calls_, 1);
  auto got = GetAccount(created.name());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->display_name(), "Acme");
  EXPECT_EQ(got->etag(), created.etag());
}

TEST_P(RecordsTest, UpdateThatAlwaysLosesGivesUp) {
  Account created = CreateOrDie("Acme");
  CompeteOnFirst(created.name(), 1000);
  Account out;
  absl::Status s = Rename(created.name(), "Never", "", &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_THAT(s.message(), HasSubstr("is being changed by many writers"));
  EXPECT_EQ(seam_calls_, 24);
  EXPECT_EQ(GetAccount(created.name())->display_name(), "Acme");
}

TEST_P(RecordsTest, DeleteRetriesALostRaceOnlyWithoutEtag) {
  Account a = CreateOrDie("A");
  CompeteOnFirst(a.name(), 1);
  absl::Status s = Remove(a.name(), a.etag());
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_TRUE(GetAccount(a.name()).ok());

  seam_calls_ = 0;
  CompeteOnFirst(a.name(), 1);
  s = Remove(a.name(), "");
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(seam_calls_, 2);
  EXPECT_EQ(GetAccount(a.name()).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(RecordsTest, IdempotentCreateByRequestId) {
  crm::v1::CreateAccountRequest req;
  req.set_request_id("3f2a9c1e-0b7d-4e55-9a61-2c8f4d1b7e90");
  req.mutable_account()->set_display_name("Acme");
  req.mutable_account()->set_industry("Retail");
  Account first;
  ASSERT_TRUE(Create(deps_, Eval(), Accounts(), req, &first).ok());

  // Same body (a retry): the same record, nothing new written.
  clock_.Advance(absl::Seconds(1));
  Account again;
  ASSERT_TRUE(Create(deps_, Eval(), Accounts(), req, &again).ok());
  EXPECT_EQ(again.name(), first.name());
  EXPECT_EQ(again.create_time().seconds(), first.create_time().seconds());

  // Output-only fields are no part of the body.
  crm::v1::CreateAccountRequest same = req;
  same.mutable_account()->set_owner("users/someone");
  ASSERT_TRUE(Create(deps_, Eval(), Accounts(), same, &again).ok());
  EXPECT_EQ(again.name(), first.name());

  // Different body: refused.
  crm::v1::CreateAccountRequest other = req;
  other.mutable_account()->set_display_name("Other");
  Account refused;
  absl::Status s = Create(deps_, Eval(), Accounts(), other, &refused);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_THAT(s.message(), HasSubstr("was already used by this caller"));

  // The same request_id from another caller is another create.
  Account alices;
  ASSERT_TRUE(Create(deps_, Eval("alice"), Accounts(), req, &alices).ok());
  EXPECT_NE(alices.name(), first.name());

  crm::v1::ListAccountsRequest list;
  crm::v1::ListAccountsResponse page;
  ASSERT_TRUE(List(deps_, Eval(), Accounts(), list, &page).ok());
  EXPECT_EQ(page.accounts_size(), 2);
}

TEST_P(RecordsTest, BadRequestIdIsRefusedBeforeStorage) {
  crm::v1::CreateAccountRequest req;
  req.set_request_id("not a valid id!");
  req.mutable_account()->set_display_name("Acme");
  Account out;
  absl::Status s = Create(deps_, Eval(), Accounts(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("request_id:"));
}

TEST_P(RecordsTest, HiddenRecordIsNotFoundLikeAMissingOne) {
  Account bobs = CreateOrDie("Bob's", "bob");
  // Carol (rep2, a peer of bob) has no path to bob's account; vp (above
  // rep2 in the role hierarchy) has.
  auto hidden = GetAccount(bobs.name(), "carol");
  auto missing = GetAccount("accounts/0123456789abcdef01234567", "carol");
  EXPECT_EQ(hidden.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(hidden.status().message(), HasSubstr(bobs.name()));
  EXPECT_TRUE(GetAccount(bobs.name(), "vp").ok());
}

TEST_P(RecordsTest, ListPagesWithSignedTokens) {
  for (int i = 0; i < 5; ++i) {
    CreateOrDie(absl::StrCat("Account ", i));
    clock_.Advance(absl::Seconds(1));
  }
  crm::v1::ListAccountsRequest req;
  req.set_page_size(2);
  req.set_order_by("display_name");
  std::vector<std::string> seen;
  for (int pages = 0; pages < 5; ++pages) {
    crm::v1::ListAccountsResponse page;
    absl::Status s = List(deps_, Eval(), Accounts(), req, &page);
    ASSERT_TRUE(s.ok()) << s;
    for (const Account& a : page.accounts()) seen.push_back(a.display_name());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(seen,
              ::testing::ElementsAre("Account 0", "Account 1", "Account 2",
                                     "Account 3", "Account 4"));
  // A token is bound to its query.
  req.set_order_by("");
  crm::v1::ListAccountsResponse page;
  EXPECT_EQ(List(deps_, Eval(), Accounts(), req, &page).code(),
            absl::StatusCode::kInvalidArgument);
  req.set_page_token("");
  req.set_page_size(1001);
  EXPECT_EQ(List(deps_, Eval(), Accounts(), req, &page).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RecordsTest, ShareListUnshareAndTransferChecks) {
  Account a = CreateOrDie("Acme", "alice");
  // A grantee that does not exist is refused.
  crm::v1::ShareRecordRequest share;
  share.set_record(a.name());
  share.mutable_grantee()->set_role("roles/nowhere");
  share.set_access(crm::v1::READ);
  crm::v1::RecordShare made;
  absl::Status s = ShareRecord(deps_, Eval("alice"), share, &made);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("does not exist"));

  // An existing role.
  store::PolicyStore policies(db_.get());
  ASSERT_TRUE(db_->InTransaction([&](store::Session& session) {
                   return policies.InsertObject(
                       session, {std::string(store::kRolesKind), "rep2", 1, "",
                                 kStartMicros});
                 })
                  .ok());
  share.mutable_grantee()->set_role("roles/rep2");
  s = ShareRecord(deps_, Eval("alice"), share, &made);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(made.record(), a.name());
  EXPECT_EQ(made.created_by(), "users/alice");

  crm::v1::ListRecordSharesRequest list;
  list.set_record(a.name());
  crm::v1::ListRecordSharesResponse shares;
  ASSERT_TRUE(ListRecordShares(deps_, Eval("alice"), list, &shares).ok());
  ASSERT_EQ(shares.shares_size(), 1);
  EXPECT_EQ(shares.shares(0).name(), made.name());

  // Transfer with a stale etag: ABORTED, owner unchanged.
  Account v2;
  ASSERT_TRUE(Rename(a.name(), "Acme 2", "", &v2).ok());
  crm::v1::TransferRecordRequest transfer;
  transfer.set_record(a.name());
  transfer.set_new_owner("users/bob");
  transfer.set_etag(a.etag());
  crm::v1::TransferRecordResponse moved;
  s = TransferRecord(deps_, Eval(), transfer, &moved);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_EQ(GetAccount(a.name())->owner(), "users/alice");

  crm::v1::UnshareRecordRequest unshare;
  unshare.set_name(made.name());
  EXPECT_TRUE(UnshareRecord(deps_, Eval("alice"), unshare).ok());
  EXPECT_EQ(UnshareRecord(deps_, Eval("alice"), unshare).code(),
            absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         store::BackendParamName);

}  // namespace
}  // namespace crm::records
