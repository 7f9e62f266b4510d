// The chain, the keys, the verifier and the diff, without a database:
// every kind of tampering the issue names is detected, and an untouched
// chain verifies.
#include <string>
#include <vector>

#include "audit/chain.h"
#include "audit/diff.h"
#include "audit/policy_diff.h"
#include "audit/signing.h"
#include "audit/verifier.h"
#include "crm/v1/policy.pb.h"
#include "gtest/gtest.h"

namespace crm::audit {
namespace {

using crm::v1::AuditCheckpoint;
using crm::v1::AuditEvent;

struct Log {
  std::vector<AuditEvent> events;
  std::vector<AuditCheckpoint> checkpoints;  // after events[sequence-1]
};

AuditCheckpoint Sign(const Signer& signer, const AuditEvent& event) {
  AuditCheckpoint c;
  c.set_sequence(event.sequence());
  c.set_hash(event.hash());
  *c.mutable_time() = TimeFromMicros(1700000000000000 + event.sequence());
  c.set_key_id(signer.public_key().key_id());
  c.set_signature(signer.Sign(CheckpointMessage(c)));
  return c;
}

Log MakeLog(const Signer& signer, int n, int checkpoint_every) {
  Log log;
  std::string previous = GenesisHash();
  for (int i = 1; i <= n; ++i) {
    AuditEvent e;
    e.set_sequence(i);
    *e.mutable_time() = TimeFromMicros(1700000000000000 + i);
    e.set_request_id("req" + std::to_string(i));
    e.set_actor_user("users/u" + std::to_string(i % 3));
    e.set_actor_service("services/web");
    e.set_action(i % 2 ? "records.update" : "login");
    e.set_resource("accounts/" + std::to_string(i));
    e.set_outcome(i % 5 ? crm::v1::ALLOWED : crm::v1::DENIED);
    e.set_reason("owner");
    (*e.mutable_attributes())["b"] = "2";
    (*e.mutable_attributes())["a"] = "1";
    auto* change = e.add_changes();
    change->set_field("industry");
    change->set_before("\"Retail\"");
    change->set_after("\"Energy\"");
    change->set_values_recorded(true);
    e.set_previous_hash(previous);
    e.set_hash(EventHash(e));
    previous = e.hash();
    log.events.push_back(e);
    if (i % checkpoint_every == 0) log.checkpoints.push_back(Sign(signer, e));
  }
  return log;
}

crm::v1::AuditVerification Verify(const Log& log, const PublicKey& key,
                                  const std::vector<AuditCheckpoint>& held = {}) {
  ChainVerifier verifier({key});
  for (const AuditCheckpoint& c : held) verifier.Expect(c);
  size_t next_checkpoint = 0;
  for (const AuditEvent& e : log.events) {
    verifier.AddEvent(e);
    while (next_checkpoint < log.checkpoints.size() &&
           log.checkpoints[next_checkpoint].sequence() == e.sequence()) {
      verifier.AddCheckpoint(log.checkpoints[next_checkpoint++]);
    }
  }
  return verifier.Finish();
}

class ChainTest : public ::testing::Test {
 protected:
  Signer signer_ = Signer::Generate();
  Log log_ = MakeLog(signer_, 50, 10);
};

TEST_F(ChainTest, UntouchedLogVerifies) {
  auto result = Verify(log_, signer_.public_key());
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), 50);
  EXPECT_EQ(result.checkpoints_verified(), 5);
  EXPECT_EQ(result.last_checkpoint_sequence(), 50);
}

// The canonical encoding is a stored format (every chain written so far
// was hashed with it): built here item by item from audit/chain.h's
// description, and one hash pinned.
std::string SpecItem(const std::string& bytes) {
  std::string out;
  const uint64_t n = bytes.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  return out + bytes;
}

AuditEvent SpecEvent() {
  AuditEvent e;
  e.set_sequence(1234567);
  *e.mutable_time() = TimeFromMicros(1700000000123456);
  e.set_request_id("req-1");
  e.set_actor_user("users/bob");
  e.set_actor_service("services/web-frontend");
  e.set_action("records.update");
  e.set_resource("accounts/a1");
  e.set_outcome(crm::v1::DENIED);
  e.set_reason("role:roles/rep via users/u1");
  e.set_client_address("ipv6:%5B::1%5D:4242");
  e.set_country("DE");
  e.set_previous_hash(std::string(64, 'a'));
  auto* c = e.add_changes();
  c->set_field("industry");
  c->set_before("\"Retail\"");
  c->set_after("");  // present and empty: "1"
  c->set_values_recorded(true);
  e.add_changes()->set_field("phone");  // neither value: "0", "0"
  (*e.mutable_attributes())["zeta"] = "last";
  (*e.mutable_attributes())["alpha"] = "";
  (*e.mutable_attributes())["Mid \xc3\xa9"] = "v";  // byte order: 'M' < 'a'
  return e;
}

TEST(ChainEncodingTest, IsTheDocumentedFormat) {
  const AuditEvent e = SpecEvent();
  std::string want = "crm-audit-v1";
  for (const std::string& item :
       {std::string("1234567"), std::string("1700000000123456"),
        std::string("req-1"), std::string("users/bob"),
        std::string("services/web-frontend"), std::string("records.update"),
        std::string("accounts/a1"), std::string("DENIED"),
        std::string("role:roles/rep via users/u1"),
        std::string("ipv6:%5B::1%5D:4242"), std::string("DE"),
        std::string(64, 'a'), std::string("2"), std::string("industry"),
        std::string("1\"Retail\""), std::string("1"), std::string("1"),
        std::string("phone"), std::string("0"), std::string("0"),
        std::string("0"), std::string("3"), std::string("Mid \xc3\xa9"),
        std::string("v"), std::string("alpha"), std::string(""),
        std::string("zeta"), std::string("last")}) {
    want += SpecItem(item);
  }
  EXPECT_EQ(CanonicalEncoding(e), want);
  EXPECT_EQ(EventHash(e), Sha256Hex(want));
  EXPECT_EQ(EventHash(e),
            "f38678ec8205a5bebb91f3cd5adacdb90b86f540b56c6b450487c86bad262148");
  AuditEvent bare;
  std::string bare_want = "crm-audit-v1";
  for (const std::string& item :
       {std::string("0"), std::string("0"), std::string(), std::string(),
        std::string(), std::string(), std::string(),
        std::string("AUDIT_OUTCOME_UNSPECIFIED"), std::string(),
        std::string(), std::string(), std::string(), std::string("0"),
        std::string("0")}) {
    bare_want += SpecItem(item);
  }
  EXPECT_EQ(CanonicalEncoding(bare), bare_want);
  // Before 1970: floor division of the microseconds.
  AuditEvent old;
  *old.mutable_time() = TimeFromMicros(-1500001);
  EXPECT_EQ(TimeMicros(old.time()), -1500001);
  EXPECT_NE(CanonicalEncoding(old).find(SpecItem("-1500001")),
            std::string::npos);
}

TEST_F(ChainTest, AttributeOrderDoesNotChangeTheHash) {
  AuditEvent a = log_.events[0];
  AuditEvent b = a;
  b.mutable_attributes()->clear();
  (*b.mutable_attributes())["a"] = "1";
  (*b.mutable_attributes())["b"] = "2";
  EXPECT_EQ(EventHash(a), EventHash(b));
  b.set_reason("owner ");
  EXPECT_NE(EventHash(a), EventHash(b));
}

TEST_F(ChainTest, EditedEventIsDetected) {
  log_.events[16].set_actor_user("users/mallory");
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 17);
  EXPECT_NE(result.problem().find("edited"), std::string::npos) << result.problem();
}

TEST_F(ChainTest, EditedAndRehashedChainIsDetectedByTheCheckpoint) {
  // The attacker recomputes every hash after the edit; only the signed
  // checkpoint at 20 can tell.
  log_.events[16].set_reason("viewAll");
  for (size_t i = 16; i < log_.events.size(); ++i) {
    if (i > 0) log_.events[i].set_previous_hash(log_.events[i - 1].hash());
    log_.events[i].set_hash(EventHash(log_.events[i]));
  }
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 20) << result.problem();
  EXPECT_NE(result.problem().find("rewritten"), std::string::npos);
}

TEST_F(ChainTest, DeletedEventIsDetected) {
  log_.events.erase(log_.events.begin() + 24);
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 25);
  EXPECT_NE(result.problem().find("missing"), std::string::npos) << result.problem();
}

TEST_F(ChainTest, InsertedEventIsDetected) {
  AuditEvent extra = log_.events[30];
  extra.set_action("records.delete");
  extra.set_hash(EventHash(extra));
  log_.events.insert(log_.events.begin() + 31, extra);
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 31) << result.problem();
}

TEST_F(ChainTest, SwappedEventsAreDetected) {
  std::swap(log_.events[40], log_.events[41]);
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 41) << result.problem();
  // Swapped and renumbered: the previous hashes no longer chain.
  log_ = MakeLog(signer_, 50, 10);
  std::swap(log_.events[40], log_.events[41]);
  log_.events[40].set_sequence(41);
  log_.events[41].set_sequence(42);
  result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 41) << result.problem();
}

TEST_F(ChainTest, TruncationAfterAnExportedCheckpointIsDetected) {
  const AuditCheckpoint held = log_.checkpoints[3];  // at 40, exported earlier
  log_.events.resize(35);
  log_.checkpoints.resize(3);
  EXPECT_TRUE(Verify(log_, signer_.public_key()).ok())
      << "without a held checkpoint truncation cannot be seen";
  auto result = Verify(log_, signer_.public_key(), {held});
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.problem().find("truncated"), std::string::npos) << result.problem();
}

TEST_F(ChainTest, CheckpointSignedWithAnotherKeyIsDetected) {
  const Signer other = Signer::Generate();
  log_.checkpoints[2] = Sign(other, log_.events[29]);
  auto result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.first_bad_sequence(), 30);
  EXPECT_NE(result.problem().find(other.public_key().key_id()), std::string::npos)
      << result.problem();
  // Claiming the pinned key's id does not help.
  log_.checkpoints[2].set_key_id(signer_.public_key().key_id());
  result = Verify(log_, signer_.public_key());
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.problem().find("does not verify"), std::string::npos);
}

TEST_F(ChainTest, PrunedChainVerifiesFromItsAnchor) {
  const AuditCheckpoint anchor = log_.checkpoints[1];  // at 20
  Log rest;
  rest.events.assign(log_.events.begin() + 20, log_.events.end());
  rest.checkpoints.assign(log_.checkpoints.begin() + 2, log_.checkpoints.end());
  ChainVerifier verifier({signer_.public_key()});
  verifier.StartFrom(anchor);
  size_t c = 0;
  for (const AuditEvent& e : rest.events) {
    verifier.AddEvent(e);
    if (c < rest.checkpoints.size() && rest.checkpoints[c].sequence() == e.sequence()) {
      verifier.AddCheckpoint(rest.checkpoints[c++]);
    }
  }
  auto result = verifier.Finish();
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), 30);
}

TEST(SigningTest, PemRoundTrip) {
  const Signer signer = Signer::Generate();
  auto again = Signer::FromPem(signer.PrivateKeyPem());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->public_key().key_id(), signer.public_key().key_id());
  auto pub = PublicKey::FromPem(signer.public_key().pem());
  ASSERT_TRUE(pub.ok());
  EXPECT_TRUE(pub->Verify("m", signer.Sign("m")));
  EXPECT_FALSE(pub->Verify("n", signer.Sign("m")));
  EXPECT_EQ(pub->key_id().size(), 16u);
  EXPECT_FALSE(PublicKey::FromPem("garbage").ok());
  EXPECT_FALSE(Signer::FromPem(signer.public_key().pem()).ok());
}

TEST(DiffTest, NamesChangedFieldsWithValues) {
  crm::v1::Role before;
  before.set_display_name("Sales");
  before.set_parent("roles/ceo");
  crm::v1::Role after = before;
  after.set_display_name("Sales EMEA");
  after.clear_parent();
  auto changes = DiffMessages(&before, &after);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].field(), "display_name");
  EXPECT_EQ(changes[0].before(), "\"Sales\"");
  EXPECT_EQ(changes[0].after(), "\"Sales EMEA\"");
  EXPECT_EQ(changes[1].field(), "parent");
  EXPECT_TRUE(changes[1].has_before());
  EXPECT_FALSE(changes[1].has_after());
  EXPECT_TRUE(DiffMessages(&before, &before).empty());
  auto created = DiffMessages(nullptr, &after);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_FALSE(created[0].has_before());
  auto hidden = DiffMessages(&before, &after, {"display_name"});
  EXPECT_FALSE(hidden[0].values_recorded());
  EXPECT_FALSE(hidden[0].has_before());
  EXPECT_FALSE(hidden[0].has_after());
}

}  // namespace
}  // namespace crm::audit

namespace crm::audit {
namespace {

// Org-wide defaults have no name field: each is named by its object, so a
// change to one is not lost among the others (they once all came out as "").
TEST(PolicyDiffTest, OrgWideDefaultsAreNamedByTheirObject) {
  crm::internal::PolicyState before;
  auto* accounts = before.add_defaults();
  accounts->set_object("accounts");
  accounts->set_internal_access(crm::v1::OrgWideDefault::PRIVATE);
  auto* leads = before.add_defaults();
  leads->set_object("leads");
  leads->set_internal_access(crm::v1::OrgWideDefault::PUBLIC_READ);
  crm::internal::PolicyState after = before;
  after.mutable_defaults(0)->set_internal_access(
      crm::v1::OrgWideDefault::PUBLIC_READ);
  std::vector<crm::v1::AuditEvent> events = PolicyChangeEvents(before, after);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "policy.update");
  EXPECT_EQ(events[0].resource(), "orgWideDefaults/accounts");
  ASSERT_EQ(events[0].changes_size(), 1);
  EXPECT_EQ(events[0].changes(0).field(), "internal_access");
  after.mutable_defaults()->RemoveLast();
  events = PolicyChangeEvents(before, after);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].resource(), "orgWideDefaults/leads");
  EXPECT_EQ(events[1].action(), "policy.delete");
}

}  // namespace
}  // namespace crm::audit
