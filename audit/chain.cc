#include "audit/chain.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/primitives.h"

namespace crm::audit {
namespace {

void Item(std::string* out, absl::string_view bytes) {
  const uint64_t n = bytes.size();
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((n >> shift) & 0xff));
  }
  out->append(bytes.data(), bytes.size());
}

void Item(std::string* out, int64_t number) { Item(out, absl::StrCat(number)); }

void Optional(std::string* out, bool has, const std::string& value) {
  Item(out, has ? absl::StrCat("1", value) : std::string("0"));
}

}  // namespace

const std::string& GenesisHash() {
  static const std::string* genesis = new std::string(64, '0');
  return *genesis;
}

int64_t TimeMicros(const google::protobuf::Timestamp& time) {
  return time.seconds() * 1000000 + time.nanos() / 1000;
}

google::protobuf::Timestamp TimeFromMicros(int64_t micros) {
  google::protobuf::Timestamp t;
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  t.set_seconds(seconds);
  t.set_nanos(static_cast<int32_t>(rest * 1000));
  return t;
}

std::string CanonicalEncoding(const crm::v1::AuditEvent& e) {
  std::string out = "crm-audit-v1";
  Item(&out, e.sequence());
  Item(&out, TimeMicros(e.time()));
  Item(&out, e.request_id());
  Item(&out, e.actor_user());
  Item(&out, e.actor_service());
  Item(&out, e.action());
  Item(&out, e.resource());
  Item(&out, crm::v1::AuditOutcome_Name(e.outcome()));
  Item(&out, e.reason());
  Item(&out, e.client_address());
  Item(&out, e.country());
  Item(&out, e.previous_hash());
  Item(&out, static_cast<int64_t>(e.changes_size()));
  for (const crm::v1::AuditFieldChange& c : e.changes()) {
    Item(&out, c.field());
    Optional(&out, c.has_before(), c.before());
    Optional(&out, c.has_after(), c.after());
    Item(&out, c.values_recorded() ? "1" : "0");
  }
  std::vector<std::pair<std::string, std::string>> attributes(
      e.attributes().begin(), e.attributes().end());
  std::sort(attributes.begin(), attributes.end());
  Item(&out, static_cast<int64_t>(attributes.size()));
  for (const auto& [key, value] : attributes) {
    Item(&out, key);
    Item(&out, value);
  }
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[crypto::kSha256Size];
  crypto::Sha256(data, digest);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string EventHash(const crm::v1::AuditEvent& event) {
  return Sha256Hex(CanonicalEncoding(event));
}

std::string CheckpointMessage(const crm::v1::AuditCheckpoint& checkpoint) {
  return absl::StrCat("crm-audit-checkpoint-v1\n", checkpoint.sequence(), "\n",
                      checkpoint.hash(), "\n", TimeMicros(checkpoint.time()));
}

}  // namespace crm::audit
