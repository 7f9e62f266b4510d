// Subject requests (crm/v1/privacy_service.proto has the contract): export
// of everything held about a person, and its erasure, without transport.
// server/privacy_service.h adapts them to gRPC; the system permission
// PRIVACY_OPERATIONS is checked there (the pipeline) before these run.
//
// Export reads with the caller's Evaluator (records it may not read are
// left out, fields it may not read are absent); erasure is not bounded by
// sharing and returns names and counts only.
//
// Erasure: ONE Database::InTransaction per call (records, shares, history,
// receipt, registry, audit event): nothing is half-written. A conditional
// write that loses a race (a record changed meanwhile) aborts it all with
// ABORTED; the caller retries.
//
// Consent: the export's "consent" section comes from ConsentSection
// (privacy.cc), the one place that reads consent for a subject's record.
//
// Thread-safety: stateless functions; PrivacyKeys is immutable.
#ifndef CRM_RECORDS_PRIVACY_H_
#define CRM_RECORDS_PRIVACY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/signing.h"
#include "crm/v1/privacy_service.pb.h"
#include "crypto/key_bytes.h"
#include "crypto/master_key.h"
#include "policy/evaluator.h"
#include "records/deps.h"

namespace crm::records {

// The keys of subject requests: the pseudonym key (derived from the master
// key, crypto/blind_index.h, field "privacy.subject") and the receipt
// signer (the audit signing key). Both borrowed: must outlive every call.
class PrivacyKeys {
 public:
  static absl::StatusOr<PrivacyKeys> Create(const crypto::MasterKey& master,
                                            const audit::Signer* signer);

  // "subjects/<32 hex>": the keyed pseudonym of `identifier`, normalized
  // (lower case, spaces trimmed) first.
  std::string Pseudonym(absl::string_view identifier) const;
  const audit::Signer& signer() const { return *signer_; }

 private:
  PrivacyKeys(crypto::KeyBytes key, const audit::Signer* signer)
      : key_(std::move(key)), signer_(signer) {}
  crypto::KeyBytes key_;
  const audit::Signer* signer_;
};

// The erasure rules built into the server, per object (contacts, leads:
// anonymize the personal fields; activities regarding the person: delete;
// the person's cases: anonymize subject and description).
const crm::v1::ErasureRules& DefaultErasureRules();

// INVALID_ARGUMENT naming the rule if `rules` names an unknown object or
// field, or anonymizes a field that is not text or is output-only.
absl::Status ValidateErasureRules(const crm::v1::ErasureRules& rules);

absl::Status ExportSubject(const Deps& deps, const policy::Evaluator& eval,
                           const PrivacyKeys& keys,
                           const crm::v1::ExportSubjectRequest& request,
                           crm::v1::ExportSubjectResponse* response);

absl::Status EraseSubject(const Deps& deps, const PrivacyKeys& keys,
                          const crm::v1::ErasureRules& rules,
                          const crm::v1::EraseSubjectRequest& request,
                          crm::v1::EraseSubjectResponse* response);

// Retention (crm/v1/privacy_service.proto "Retention").
using RetentionRules = google::protobuf::RepeatedPtrField<crm::v1::RetentionRule>;

// INVALID_ARGUMENT naming the rule for an unknown object or field, a field
// that is not writable text, an age under one day, a missing or duplicate
// name.
absl::Status ValidateRetentionRules(const RetentionRules& rules);

// What a run would do now (deps.clock), per rule. Writes nothing.
absl::Status PreviewRetention(const Deps& deps, const RetentionRules& rules,
                              crm::v1::RetentionReport* report);

struct RetentionOptions {
  int batch_size = 500;
  std::string trigger = "manual";  // or "schedule"
  // Checked between batches: true stops the run (CANCELLED; the batches
  // done stay committed and audited).
  std::function<bool()> stop;
  // Slept between two batches, leaving the cores to traffic: batches back
  // to back keep a core busy (the run's thread and its database backend)
  // and, on two cores, raised Get p99 from 1x to 30x of idle; with 100 ms
  // after each batch of 500, a 100,000-record run takes ~30 s and Get p99
  // stays within 2x (bench/README.md, issue 13).
  absl::Duration pause = absl::Milliseconds(100);
};

// One run: FAILED_PRECONDITION, doing nothing, if a run holds the lock
// (this process or, on PostgreSQL, any server). Holds one pooled
// connection for the lock and leases another per batch: the pool needs at
// least two. *run is the run's record, also when it stopped early.
absl::Status RunRetention(const Deps& deps, const RetentionRules& rules,
                          const RetentionOptions& options,
                          crm::v1::RetentionRun* run);

// The newest runs; page_size 1..100 (0: 20).
absl::Status ListRetentionRuns(const Deps& deps,
                               const crm::v1::ListRetentionRunsRequest& request,
                               crm::v1::ListRetentionRunsResponse* response);

// NOT_FOUND for an unknown receipt name.
absl::Status GetErasureReceipt(const Deps& deps,
                               const crm::v1::GetErasureReceiptRequest& request,
                               crm::v1::ErasureReceipt* response);

}  // namespace crm::records

#endif  // CRM_RECORDS_PRIVACY_H_
