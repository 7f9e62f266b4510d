// Consent per person, channel and purpose (migration 16;
// crm.v1.ConsentService): the current state of each entry and the
// append-only history of changes.
//
// Writes take the caller's Session so that the change, its history row and
// its audit event commit together (records/consent.cc runs them in one
// transaction). Concurrency: Set is conditional on the entry's version; a
// lost race (another writer changed the entry, or appended the record's
// next history row, first) is ABORTED, and the caller retries the whole
// transaction.
//
// States are stored as text: kOptedIn, kOptedOut, kUnknown.
//
// Thread-safety: stateless; safe from any thread with its own Session.
#ifndef CRM_STORE_CONSENT_STORE_H_
#define CRM_STORE_CONSENT_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "store/database.h"

namespace crm::store {

inline constexpr char kOptedIn[] = "opted-in";
inline constexpr char kOptedOut[] = "opted-out";
inline constexpr char kUnknownConsent[] = "unknown";

// One consent entry (a row of consents).
struct ConsentRow {
  std::string channel;
  std::string purpose;
  std::string state;       // kOptedIn, kOptedOut or kUnknownConsent
  std::string source;      // "dataSources/web-forms", "users/bob", ...
  std::string service;     // "services/web-forms"
  std::string actor;       // "users/u1" or "services/web-forms"
  std::string request_id;  // "" if none
  int64_t updated_at = 0;  // Unix microseconds
  int64_t version = 0;     // 0: never recorded
};

// One change (a row of consent_history): the entry after it.
struct ConsentChangeRow {
  int64_t sequence = 0;
  ConsentRow entry;
  std::string previous_state;
};

class ConsentStore {
 public:
  // Every entry of collection/record_id, by channel then purpose.
  static absl::StatusOr<std::vector<ConsentRow>> Get(
      Session& session, absl::string_view collection,
      absl::string_view record_id);

  // Get for many records, one statement per chunk (ForEachChunk,
  // statement.h): record id -> its entries (records with none are absent).
  static absl::StatusOr<std::map<std::string, std::vector<ConsentRow>>>
  GetAll(Session& session, absl::string_view collection,
         const std::vector<std::string>& record_ids);

  // The entry, or nullopt if never recorded.
  static absl::StatusOr<std::optional<ConsentRow>> GetOne(
      Session& session, absl::string_view collection,
      absl::string_view record_id, absl::string_view channel,
      absl::string_view purpose);

  // Writes `entry` (its channel, purpose, state and writer; its version is
  // set here) over the entry whose current version is `current_version`
  // (0: none yet), and appends the change to the history. ABORTED if the
  // entry or the history moved meanwhile (retry). Returns the entry as
  // written.
  static absl::StatusOr<ConsentRow> Set(Session& session,
                                        absl::string_view collection,
                                        absl::string_view record_id,
                                        int64_t current_version,
                                        absl::string_view previous_state,
                                        ConsentRow entry);

  // History rows after `after_sequence`, oldest first, at most `limit`.
  static absl::StatusOr<std::vector<ConsentChangeRow>> History(
      Session& session, absl::string_view collection,
      absl::string_view record_id, int64_t after_sequence, int limit);

  // For masking a page of records: record id -> channels opted out for one
  // of `purposes`, among `record_ids` (one statement).
  static absl::StatusOr<std::map<std::string, std::vector<std::string>>>
  OptedOutChannels(Session& session, absl::string_view collection,
                   const std::vector<std::string>& record_ids,
                   const std::vector<std::string>& purposes);

  // Removes a record's consent and history (with the record).
  static absl::Status Forget(Session& session, absl::string_view collection,
                             absl::string_view record_id);
};

}  // namespace crm::store

#endif  // CRM_STORE_CONSENT_STORE_H_
