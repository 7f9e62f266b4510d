#include "audit/erasure_receipt.h"

#include "absl/strings/str_cat.h"
#include "audit/diff.h"
#include "audit/signing.h"

namespace crm::audit {

std::string ErasureReceiptStatement(const crm::v1::ErasureReceipt& receipt) {
  const int64_t micros = receipt.erase_time().seconds() * 1000000 +
                         receipt.erase_time().nanos() / 1000;
  std::string out = absl::StrCat(
      "{\"name\":", JsonString(receipt.name()),
      ",\"subject\":", JsonString(receipt.subject()), ",\"eraseTime\":",
      micros, ",\"records\":[");
  for (int i = 0; i < receipt.records_size(); ++i) {
    const crm::v1::ErasedRecord& r = receipt.records(i);
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"record\":",
                    JsonString(r.record()), ",\"action\":",
                    JsonString(crm::v1::ErasedRecord::Action_Name(r.action())),
                    ",\"fields\":[");
    for (int j = 0; j < r.fields_size(); ++j) {
      absl::StrAppend(&out, j == 0 ? "" : ",", JsonString(r.fields(j)));
    }
    absl::StrAppend(&out, "],\"sharesRemoved\":", r.shares_removed(),
                    ",\"historyScrubbed\":", r.history_scrubbed(), "}");
  }
  out += "]}";
  return out;
}

absl::Status VerifyErasureReceipt(const crm::v1::ErasureReceipt& receipt,
                                  absl::string_view pinned_pem) {
  if (receipt.statement() != ErasureReceiptStatement(receipt)) {
    return absl::FailedPreconditionError(
        "the receipt's fields differ from its signed statement: it was "
        "altered");
  }
  auto key = PublicKey::FromPem(receipt.public_key_pem());
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the receipt's public key: ", key.status().message()));
  }
  if (key->key_id() != receipt.key_id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the receipt names key ", receipt.key_id(),
                     " but carries key ", key->key_id()));
  }
  if (!pinned_pem.empty()) {
    auto pinned = PublicKey::FromPem(pinned_pem);
    if (!pinned.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the pinned public key: ", pinned.status().message()));
    }
    if (pinned->key_id() != key->key_id()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the receipt is signed by key ", key->key_id(),
          ", not by the pinned key ", pinned->key_id()));
    }
  }
  if (!key->Verify(receipt.statement(), receipt.signature())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the signature does not verify under key ", key->key_id()));
  }
  return absl::OkStatus();
}

}  // namespace crm::audit
