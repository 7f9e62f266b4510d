// The hash chain of the audit trail (crm/v1/audit_service.proto), pure:
// no I/O, no clock. The store assigns sequence numbers and calls
// ChainHash; verifiers (audit/verifier.h) recompute it.
//
// Canonical encoding of an event (everything except `hash`), the input of
// the chain hash: the ASCII domain tag "crm-audit-v1", then each of these
// as an item, in this order:
//   sequence, time (Unix microseconds), request_id, actor_user,
//   actor_service, action, resource, outcome (value name), reason,
//   client_address, country, previous_hash (hex),
//   the number of changes, then per change: field, "1"+before or "0",
//   "1"+after or "0", values_recorded ("1"/"0"),
//   the number of attributes, then per attribute in byte order of the key:
//   key, value
// where an item is its length as 8 bytes big-endian followed by its bytes,
// and numbers are written in decimal. Two events with the same fields have
// the same encoding whatever produced them (a map's order does not
// matter), and no two different events share one (lengths delimit items).
//
//   hash = SHA-256(encoding), written as 64 lower-case hex characters.
#ifndef CRM_AUDIT_CHAIN_H_
#define CRM_AUDIT_CHAIN_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "crm/v1/audit_service.pb.h"

namespace crm::audit {

// previous_hash of the first event of a chain that was never pruned.
const std::string& GenesisHash();  // 64 '0's

std::string CanonicalEncoding(const crm::v1::AuditEvent& event);

// SHA-256 of CanonicalEncoding(event), hex.
std::string EventHash(const crm::v1::AuditEvent& event);

// The bytes a checkpoint's signature covers:
//   "crm-audit-checkpoint-v1\n{sequence}\n{hash}\n{time Unix micros}".
std::string CheckpointMessage(const crm::v1::AuditCheckpoint& checkpoint);

// Lower-case hex of SHA-256(data).
std::string Sha256Hex(absl::string_view data);

int64_t TimeMicros(const google::protobuf::Timestamp& time);
google::protobuf::Timestamp TimeFromMicros(int64_t micros);

}  // namespace crm::audit

#endif  // CRM_AUDIT_CHAIN_H_
