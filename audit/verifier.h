// Verification of an audit chain (crm/v1/audit_service.proto, "Tamper
// evidence"), streaming: events and checkpoints are fed in sequence order
// (a checkpoint after the event it covers), so a million events verify in
// constant memory. Used by the server (VerifyAuditLog) and offline by
// `crmctl audit verify --file` with only the pinned public key.
//
// What it reports (the first problem only; later input is ignored):
//   - an event whose hash does not match its contents (edited),
//   - an event whose previous_hash is not the hash before it (an edit
//     rehashed, an insertion, a swap),
//   - a sequence that is not the previous one plus one (deleted, inserted,
//     swapped events),
//   - a checkpoint that is not signed by a pinned key, or whose hash is not
//     the chain's hash at its sequence (the chain was rewritten),
//   - a log that ends before a checkpoint the auditor holds (truncated).
#ifndef CRM_AUDIT_VERIFIER_H_
#define CRM_AUDIT_VERIFIER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/signing.h"
#include "crm/v1/audit_service.pb.h"

namespace crm::audit {

class ChainVerifier {
 public:
  // `keys`: the public keys whose checkpoints are trusted (at least one).
  explicit ChainVerifier(std::vector<PublicKey> keys);

  // The chain does not start at sequence 1 (retention removed a prefix):
  // it continues from `anchor`, a checkpoint that must itself verify.
  // Call before the first event.
  void StartFrom(const crm::v1::AuditCheckpoint& anchor);
  // A checkpoint kept outside the database (from an earlier export): the
  // log must reach its sequence with its hash.
  void Expect(const crm::v1::AuditCheckpoint& held);

  void AddEvent(const crm::v1::AuditEvent& event);
  void AddCheckpoint(const crm::v1::AuditCheckpoint& checkpoint);

  // The result after the last event; also checks the held checkpoints.
  crm::v1::AuditVerification Finish();

  bool failed() const { return !result_.problem().empty(); }

 private:
  void Fail(int64_t sequence, std::string problem);
  // Empty if `checkpoint` carries a valid signature by a pinned key.
  std::string SignatureProblem(const crm::v1::AuditCheckpoint& checkpoint) const;
  void CheckHeld(const crm::v1::AuditCheckpoint& held);

  std::vector<PublicKey> keys_;
  std::vector<crm::v1::AuditCheckpoint> held_;
  int64_t last_sequence_ = 0;
  std::string last_hash_;
  bool started_ = false;
  crm::v1::AuditVerification result_;
};

}  // namespace crm::audit

#endif  // CRM_AUDIT_VERIFIER_H_
