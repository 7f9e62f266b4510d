// AuditConfig (crm/internal/server_config.proto) checked and compiled once
// at start-up: read modes per object, tracked fields, the writer's options
// and the checkpoint key. A bad entry stops the server with a message
// naming it.
#ifndef CRM_SERVER_AUDIT_SETTINGS_H_
#define CRM_SERVER_AUDIT_SETTINGS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/signing.h"
#include "crm/internal/server_config.pb.h"
#include "model/object_schema.h"
#include "store/audit_log.h"

namespace crm::server {

enum class AuditReads { kAll, kDeniedOnly, kNone };

struct AuditSettings {
  absl::flat_hash_map<std::string, AuditReads> reads;  // by collection
  absl::flat_hash_set<std::string> tracked_fields;     // "collection.field"
  store::AuditLogOptions options;

  // kDeniedOnly for an object not configured.
  AuditReads ReadsOf(absl::string_view collection) const;
};

// INVALID_ARGUMENT naming the entry: an unknown object or mode, an unknown
// or sensitive tracked field.
absl::StatusOr<AuditSettings> CompileAuditSettings(
    const crm::internal::AuditConfig& config,
    const model::SchemaRegistry& registry);

// The checkpoint key: AuditConfig.signing_key_file (which must not be
// readable by others unless `allow_insecure_permissions`), or a new key
// when none is configured (logged as a warning).
absl::StatusOr<audit::Signer> LoadAuditSigner(
    const crm::internal::AuditConfig& config, bool allow_insecure_permissions);

}  // namespace crm::server

#endif  // CRM_SERVER_AUDIT_SETTINGS_H_
