#include "store/policy_store.h"

#include <limits>
#include <map>

#include "crm/v1/policy.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class PolicyStoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    store_ = std::make_unique<PolicyStore>(db_.get());
  }

  // Runs `fn` in a transaction and fails the test on error.
  void Tx(const std::function<absl::Status(Session&)>& fn) {
    absl::Status s = db_->InTransaction(fn);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<PolicyStore> store_;
};

TEST_P(PolicyStoreTest, ObjectRoundTripKeepsBinaryBodies) {
  crm::v1::Group group;
  group.set_display_name("EMEA");
  group.add_members()->set_user("");  // serializes a NUL length byte
  group.add_members()->set_role("roles/vp");
  PolicyObjectRow row{"groups", "emea", 1, group.SerializeAsString(), 42};
  ASSERT_NE(row.body.find('\0'), std::string::npos);
  Tx([&](Session& s) { return store_->InsertObject(s, row); });

  Tx([&](Session& s) -> absl::Status {
    EXPECT_EQ(store_->InsertObject(s, row).code(),
              absl::StatusCode::kAlreadyExists);
    auto got = store_->GetObject(s, "groups", "emea");
    if (!got.ok()) return got.status();
    EXPECT_TRUE(got->has_value());
    if (!got->has_value()) return absl::OkStatus();
    EXPECT_EQ((*got)->body, row.body);
    EXPECT_EQ((*got)->version, 1);
    EXPECT_EQ((*got)->update_time, 42);

    auto stale = store_->UpdateObjectIfVersion(s, "groups", "emea", 7, "x", 1);
    EXPECT_TRUE(stale.ok() && !*stale);
    auto ok = store_->UpdateObjectIfVersion(s, "groups", "emea", 1, "", 50);
    EXPECT_TRUE(ok.ok() && *ok);
    got = store_->GetObject(s, "groups", "emea");
    EXPECT_TRUE(got.ok() && got->has_value() && (*got)->version == 2 &&
                (*got)->body.empty());
    auto missing = store_->GetObject(s, "roles", "emea");
    EXPECT_TRUE(missing.ok() && !missing->has_value());
    return absl::OkStatus();
  });
}

TEST_P(PolicyStoreTest, ListPagesInIdOrderPerKind) {
  Tx([&](Session& s) -> absl::Status {
    for (const char* id : {"c", "a", "b"}) {
      crm::v1::Role role;
      role.set_display_name(id);
      absl::Status st = store_->InsertObject(
          s, {"roles", id, 1, role.SerializeAsString(), 0});
      if (!st.ok()) return st;
    }
    return store_->InsertObject(s, {"groups", "g", 1, "", 0});
  });
  Tx([&](Session& s) -> absl::Status {
    auto page = store_->ListObjects(s, "roles", "", 2);
    if (!page.ok()) return page.status();
    EXPECT_EQ(page->size(), 2u);
    if (page->size() == 2) {
      EXPECT_EQ((*page)[0].id, "a");
      EXPECT_EQ((*page)[1].id, "b");
    }
    page = store_->ListObjects(s, "roles", "b", 2);
    EXPECT_TRUE(page.ok() && page->size() == 1 && (*page)[0].id == "c");
    auto deleted = store_->DeleteObjectIfVersion(s, "roles", "a", 2);
    EXPECT_TRUE(deleted.ok() && !*deleted);
    deleted = store_->DeleteObjectIfVersion(s, "roles", "a", 1);
    EXPECT_TRUE(deleted.ok() && *deleted);
    return absl::OkStatus();
  });
}

TEST_P(PolicyStoreTest, LoadStateParsesObjectsUsersAndVersion) {
  Tx([&](Session& s) -> absl::Status {
    crm::v1::Role ceo;
    ceo.set_display_name("CEO");
    absl::Status st =
        store_->InsertObject(s, {"roles", "ceo", 3, ceo.SerializeAsString(), 0});
    if (!st.ok()) return st;
    crm::v1::OrgWideDefault owd;
    owd.set_internal_access(crm::v1::OrgWideDefault::PUBLIC_READ);
    st = store_->InsertObject(
        s, {"orgWideDefaults", "accounts", 1, owd.SerializeAsString(), 0});
    if (!st.ok()) return st;
    auto r = Execute(s,
                     {"INSERT INTO profiles (id, name, system_permissions, "
                      "allowed_ip_ranges, allowed_countries, login_hours, "
                      "login_time_zone, version) VALUES ('admin', 'Admin', "
                      "'manage_policy, view_all_data', ?, ' DE,us,', "
                      "'mon 09:00-17:00', 'Europe/Berlin', 1)",
                      {std::string("10.0.0.0/8\n ::1 \n")}},
                     "test");
    if (!r.ok()) return r.status();
    r = Execute(s,
                {"INSERT INTO users (id, username, profile_id, role_id, "
                 "active, version) VALUES ('u1', 'ann', 'admin', 'ceo', 1, 1)",
                 {}},
                "test");
    return r.status();
  });
  int64_t before = 0;
  Tx([&](Session& s) -> absl::Status {
    auto v = store_->PolicyVersion(s);
    if (!v.ok()) return v.status();
    before = *v;
    EXPECT_EQ(before, 1);
    auto bumped = store_->BumpPolicyVersion(s);
    if (!bumped.ok()) return bumped.status();
    EXPECT_EQ(*bumped, before + 1);
    return absl::OkStatus();
  });

  auto state = store_->LoadState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->version(), before + 1);
  ASSERT_EQ(state->roles_size(), 1);
  EXPECT_EQ(state->roles(0).name(), "roles/ceo");
  EXPECT_EQ(state->roles(0).display_name(), "CEO");
  EXPECT_EQ(state->roles(0).etag(), "v3");
  ASSERT_EQ(state->defaults_size(), 1);
  EXPECT_EQ(state->defaults(0).object(), "accounts");
  EXPECT_EQ(state->defaults(0).internal_access(),
            crm::v1::OrgWideDefault::PUBLIC_READ);
  ASSERT_EQ(state->users_size(), 1);
  const auto& user = state->users(0);
  EXPECT_EQ(user.id(), "u1");
  EXPECT_EQ(user.role(), "roles/ceo");
  EXPECT_EQ(user.profile(), "profiles/admin");
  EXPECT_TRUE(user.active());
  // In the enum's order whatever the column's ("manage_policy,view_all_data"
  // or the reverse), so policies compare by their text.
  ASSERT_EQ(user.profile_system_permissions_size(), 2);
  EXPECT_EQ(user.profile_system_permissions(0), crm::v1::VIEW_ALL_DATA);
  EXPECT_EQ(user.profile_system_permissions(1), crm::v1::MANAGE_POLICY);
  // Profiles with their login restrictions, lists split as stored.
  ASSERT_EQ(state->profiles_size(), 1);
  const auto& profile = state->profiles(0);
  EXPECT_EQ(profile.name(), "profiles/admin");
  EXPECT_EQ(profile.display_name(), "Admin");
  EXPECT_THAT(profile.allowed_ip_ranges(),
              ::testing::ElementsAre("10.0.0.0/8", "::1"));
  EXPECT_THAT(profile.allowed_countries(), ::testing::ElementsAre("DE", "us"));
  EXPECT_EQ(profile.login_hours(), "mon 09:00-17:00");
  EXPECT_EQ(profile.login_time_zone(), "Europe/Berlin");
}

TEST_P(PolicyStoreTest, SharesCrud) {
  Tx([&](Session& s) -> absl::Status {
    for (int i = 0; i < 3; ++i) {
      absl::Status st = store_->InsertShare(
          s, {absl::StrCat("s", i), "accounts", "a1",
              absl::StrCat("users/u", i), kShareRead, "users/owner", 100 + i});
      if (!st.ok()) return st;
    }
    EXPECT_EQ(store_
                  ->InsertShare(s, {"s0", "accounts", "a2", "users/u9", 1, "",
                                    0})
                  .code(),
              absl::StatusCode::kAlreadyExists);
    return store_->InsertShare(
        s, {"other", "contacts", "a1", "groups/g", kShareReadWrite, "", 0});
  });
  Tx([&](Session& s) -> absl::Status {
    auto all = store_->SharesFor(s, "accounts", "a1");
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 3u);
    // Many records at once: the same shares in the same order, per record.
    auto many = store_->SharesForAll(s, "accounts", {"a1", "a9"});
    if (!many.ok()) return many.status();
    EXPECT_EQ(many->size(), 1u);  // a9 has none
    EXPECT_EQ((*many)["a1"].size(), all->size());
    for (size_t i = 0; i < all->size() && i < (*many)["a1"].size(); ++i) {
      EXPECT_EQ((*many)["a1"][i].id, (*all)[i].id);
    }
    auto page = store_->ListShares(s, "accounts", "a1",
                                   std::numeric_limits<int64_t>::min(), "", 2);
    EXPECT_TRUE(page.ok() && page->size() == 2);
    page = store_->ListShares(s, "accounts", "a1", 101, "s1", 2);
    EXPECT_TRUE(page.ok() && page->size() == 1 && (*page)[0].id == "s2");
    auto found = store_->FindShareByGrantee(s, "accounts", "a1", "users/u1");
    EXPECT_TRUE(found.ok() && found->has_value() && (*found)->id == "s1");
    auto updated = store_->UpdateShareAccess(s, "s1", kShareReadWrite);
    EXPECT_TRUE(updated.ok() && *updated);
    auto got = store_->GetShare(s, "accounts", "a1", "s1");
    EXPECT_TRUE(got.ok() && got->has_value() &&
                (*got)->access == kShareReadWrite);
    auto wrong_record = store_->GetShare(s, "accounts", "a2", "s1");
    EXPECT_TRUE(wrong_record.ok() && !wrong_record->has_value());
    auto count = store_->CountSharesWithGrantee(s, {"users/u0", "groups/g"});
    EXPECT_TRUE(count.ok() && *count == 2);
    auto deleted = store_->DeleteShare(s, "accounts", "a1", "s0");
    EXPECT_TRUE(deleted.ok() && *deleted);
    auto removed = store_->DeleteSharesOf(s, "accounts", "a1");
    EXPECT_TRUE(removed.ok() && *removed == 2);
    return absl::OkStatus();
  });
}

TEST_P(PolicyStoreTest, HistoryKeepsEachVersionAndStoresAStateOnce) {
  // Binary states with NUL bytes (serialized protobufs are).
  const std::string v1_state("v1\0state", 8), v3_state("v3\0", 3);
  PolicyHistoryRow r2;
  r2.version = 2;  // the first entry: version 1 is recorded before it
  r2.time = 100;
  r2.actor_user = "users/alice";
  r2.actor_service = "services/admin-cli";
  r2.request_id = "req-2";
  r2.method = "UserAdminService/UpdateUser";
  r2.changed = {"users/bob"};
  r2.state = v1_state;  // users changed: the policy did not
  Tx([&](Session& s) { return store_->AppendHistory(s, r2, v1_state, false); });
  PolicyHistoryRow r3 = r2;
  r3.version = 3;
  r3.method = "PolicyAdminService/ApplyPolicy";
  r3.message = "add the retail rule";
  r3.changed = {"sharingRules/retail", "roles/vp"};
  r3.state = v3_state;
  Tx([&](Session& s) { return store_->AppendHistory(s, r3, v1_state, true); });
  PolicyHistoryRow r4 = r2;
  r4.version = 4;
  r4.state = v3_state;
  Tx([&](Session& s) { return store_->AppendHistory(s, r4, v3_state, false); });

  Tx([&](Session& s) -> absl::Status {
    auto all = store_->ListHistory(s, 0, 10);
    if (!all.ok()) return all.status();
    std::vector<int64_t> versions;
    for (const auto& h : *all) versions.push_back(h.version);
    EXPECT_EQ(versions, (std::vector<int64_t>{4, 3, 2, 1}));
    EXPECT_EQ((*all)[1].message, "add the retail rule");
    EXPECT_EQ((*all)[1].changed,
              (std::vector<std::string>{"sharingRules/retail", "roles/vp"}));
    EXPECT_EQ((*all)[2].actor_user, "users/alice");
    EXPECT_EQ((*all)[2].request_id, "req-2");
    EXPECT_TRUE((*all)[0].state.empty());  // lists carry no state
    auto page = store_->ListHistory(s, 3, 1);
    if (!page.ok()) return page.status();
    EXPECT_EQ(page->size(), 1u);
    EXPECT_EQ(page->front().version, 2);

    std::map<int64_t, std::string> states;
    for (int64_t v : {1, 2, 3, 4}) {
      auto got = store_->GetHistory(s, v);
      if (!got.ok()) return got.status();
      EXPECT_TRUE(got->has_value()) << v;
      if (got->has_value()) states[v] = (*got)->state;
    }
    EXPECT_EQ(states[1], v1_state);
    EXPECT_EQ(states[2], v1_state);  // unchanged: read from version 1's row
    EXPECT_EQ(states[3], v3_state);
    EXPECT_EQ(states[4], v3_state);
    auto none = store_->GetHistory(s, 9);
    if (!none.ok()) return none.status();
    EXPECT_FALSE(none->has_value());
    // Each state is stored once.
    auto stored = QueryInt(
        s, {"SELECT COUNT(*) FROM policy_history WHERE state <> ''", {}},
        "counting");
    if (!stored.ok()) return stored.status();
    EXPECT_EQ(*stored, 2);
    return absl::OkStatus();
  });
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
