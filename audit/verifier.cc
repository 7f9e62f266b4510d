#include "audit/verifier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/chain.h"

namespace crm::audit {

ChainVerifier::ChainVerifier(std::vector<PublicKey> keys)
    : keys_(std::move(keys)), last_hash_(GenesisHash()) {}

void ChainVerifier::Fail(int64_t sequence, std::string problem) {
  if (failed()) return;
  result_.set_first_bad_sequence(sequence);
  result_.set_problem(std::move(problem));
}

std::string ChainVerifier::SignatureProblem(
    const crm::v1::AuditCheckpoint& checkpoint) const {
  const std::string message = CheckpointMessage(checkpoint);
  for (const PublicKey& key : keys_) {
    if (key.key_id() == checkpoint.key_id()) {
      return key.Verify(message, checkpoint.signature())
                 ? std::string()
                 : "its signature does not verify under the pinned key " +
                       key.key_id() + " (forged or altered)";
    }
  }
  // The key id is not ours; it could still be a lie, so try every key.
  for (const PublicKey& key : keys_) {
    if (key.Verify(message, checkpoint.signature())) return std::string();
  }
  std::string pinned;
  for (const PublicKey& key : keys_) absl::StrAppend(&pinned, " ", key.key_id());
  return absl::StrCat("it is signed by key ", checkpoint.key_id(),
                      ", not by a pinned key (", pinned.empty() ? " none" : pinned,
                      " )");
}

void ChainVerifier::StartFrom(const crm::v1::AuditCheckpoint& anchor) {
  if (started_) return;
  if (std::string p = SignatureProblem(anchor); !p.empty()) {
    Fail(anchor.sequence(), absl::StrCat("anchor checkpoint at ",
                                         anchor.sequence(), ": ", p));
    return;
  }
  last_sequence_ = anchor.sequence();
  last_hash_ = anchor.hash();
  result_.set_last_checkpoint_sequence(anchor.sequence());
}

void ChainVerifier::Expect(const crm::v1::AuditCheckpoint& held) {
  if (std::string p = SignatureProblem(held); !p.empty()) {
    Fail(held.sequence(),
         absl::StrCat("the held checkpoint at ", held.sequence(), ": ", p));
    return;
  }
  held_.push_back(held);
}

void ChainVerifier::AddEvent(const crm::v1::AuditEvent& event) {
  if (failed()) return;
  started_ = true;
  const int64_t seq = event.sequence();
  if (seq != last_sequence_ + 1) {
    if (seq <= last_sequence_) {
      Fail(seq, absl::StrCat("event ", seq, " comes after event ",
                             last_sequence_,
                             " (events reordered or inserted)"));
    } else {
      Fail(last_sequence_ + 1,
           absl::StrCat("event ", seq, " follows event ", last_sequence_,
                        ": ", seq - last_sequence_ - 1 == 1
                                  ? absl::StrCat("event ", last_sequence_ + 1,
                                                 " is missing (deleted?)")
                                  : absl::StrCat("events ", last_sequence_ + 1,
                                                 "-", seq - 1,
                                                 " are missing (deleted?)")));
    }
    return;
  }
  const std::string computed = EventHash(event);
  if (computed != event.hash()) {
    Fail(seq, absl::StrCat("event ", seq,
                           ": its hash does not match its contents (edited)"));
    return;
  }
  if (event.previous_hash() != last_hash_) {
    Fail(seq, absl::StrCat("event ", seq,
                           ": previous_hash is not the hash of event ",
                           last_sequence_,
                           " (the chain was altered before this event)"));
    return;
  }
  last_sequence_ = seq;
  last_hash_ = computed;
  result_.set_events_verified(result_.events_verified() + 1);
  for (const crm::v1::AuditCheckpoint& held : held_) {
    if (held.sequence() == seq) CheckHeld(held);
  }
}

void ChainVerifier::CheckHeld(const crm::v1::AuditCheckpoint& held) {
  if (held.hash() != last_hash_) {
    Fail(held.sequence(),
         absl::StrCat("the chain's hash at event ", held.sequence(),
                      " differs from the held checkpoint's (the log was "
                      "rewritten since it was taken)"));
  }
}

void ChainVerifier::AddCheckpoint(const crm::v1::AuditCheckpoint& checkpoint) {
  if (failed()) return;
  const int64_t seq = checkpoint.sequence();
  if (std::string p = SignatureProblem(checkpoint); !p.empty()) {
    Fail(seq, absl::StrCat("checkpoint at event ", seq, ": ", p));
    return;
  }
  if (seq != last_sequence_) {
    Fail(seq, absl::StrCat("checkpoint at event ", seq,
                           " does not follow its event (the last event read "
                           "is ", last_sequence_, ")"));
    return;
  }
  if (checkpoint.hash() != last_hash_) {
    Fail(seq, absl::StrCat("checkpoint at event ", seq,
                           ": the chain's hash there differs from the signed "
                           "one (events up to ", seq, " were rewritten)"));
    return;
  }
  result_.set_checkpoints_verified(result_.checkpoints_verified() + 1);
  result_.set_last_checkpoint_sequence(seq);
}

crm::v1::AuditVerification ChainVerifier::Finish() {
  for (const crm::v1::AuditCheckpoint& held : held_) {
    if (held.sequence() > last_sequence_) {
      Fail(last_sequence_ + 1,
           absl::StrCat("the log ends at event ", last_sequence_,
                        " but a held checkpoint covers event ",
                        held.sequence(), " (events after ", last_sequence_,
                        " were removed: truncated)"));
    }
  }
  result_.set_ok(!failed());
  return result_;
}

}  // namespace crm::audit
