#include "server/audit_settings.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "server/secret_files.h"

namespace crm::server {

AuditReads AuditSettings::ReadsOf(absl::string_view collection) const {
  auto it = reads.find(collection);
  return it == reads.end() ? AuditReads::kDeniedOnly : it->second;
}

absl::StatusOr<AuditSettings> CompileAuditSettings(
    const crm::internal::AuditConfig& config,
    const model::SchemaRegistry& registry) {
  AuditSettings out;
  for (const auto& [object, mode] : config.reads()) {
    if (registry.Find(object) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit.reads: unknown object '", object,
          "'; use a collection such as \"accounts\""));
    }
    AuditReads value;
    if (mode == "all") {
      value = AuditReads::kAll;
    } else if (mode == "denied_only") {
      value = AuditReads::kDeniedOnly;
    } else if (mode == "none") {
      value = AuditReads::kNone;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit.reads[\"", object, "\"]: '", mode,
          "' is not a mode; use \"all\", \"denied_only\" or \"none\""));
    }
    out.reads[object] = value;
  }
  for (const std::string& name : config.tracked_fields()) {
    std::vector<std::string> parts = absl::StrSplit(name, '.');
    const model::ObjectSchema* schema =
        parts.size() == 2 ? registry.Find(parts[0]) : nullptr;
    const model::FieldSchema* field =
        schema == nullptr ? nullptr : schema->FindField(parts[1]);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit.tracked_fields: '", name,
          "' is not a field; use \"collection.field\", e.g. "
          "\"accounts.industry\""));
    }
    if (field->sensitive) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit.tracked_fields: '", name,
          "' is marked sensitive in resources.proto; its values never go "
          "to the audit trail"));
    }
    out.tracked_fields.insert(name);
  }
  using WhenBehind = store::AuditLogOptions::WhenBehind;
  out.options.when_behind =
      config.when_behind() == crm::internal::AuditConfig::REFUSE
          ? WhenBehind::kRefuse
          : WhenBehind::kWait;
  if (config.max_pending() > 0) out.options.max_pending = config.max_pending();
  if (config.checkpoint_every() > 0) {
    out.options.checkpoint_every = static_cast<int>(config.checkpoint_every());
  }
  if (config.checkpoint_seconds() > 0) {
    out.options.checkpoint_interval = absl::Seconds(config.checkpoint_seconds());
  }
  if (config.retention_days() > 0) {
    out.options.retention = absl::Hours(24) * config.retention_days();
  }
  return out;
}

absl::StatusOr<audit::Signer> LoadAuditSigner(
    const crm::internal::AuditConfig& config, bool allow_insecure_permissions) {
  if (config.signing_key_file().empty()) {
    base::LogWarning(
        "audit.ephemeral_key",
        {{"message",
          "audit.signing_key_file is not set: checkpoints are signed with a "
          "key that lives only as long as this process; set it (certs/"
          "make-dev-certs.sh writes one) so the auditor can pin the key"}});
    return audit::Signer::Generate();
  }
  if (absl::Status s =
          CheckSecretFileMode("audit.signing_key_file",
                              config.signing_key_file(),
                              allow_insecure_permissions);
      !s.ok()) {
    return s;
  }
  std::ifstream in(config.signing_key_file());
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "audit.signing_key_file: cannot read '", config.signing_key_file(),
        "'"));
  }
  std::stringstream pem;
  pem << in.rdbuf();
  auto signer = audit::Signer::FromPem(pem.str());
  if (!signer.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "audit.signing_key_file '", config.signing_key_file(),
        "': ", signer.status().message()));
  }
  return signer;
}

}  // namespace crm::server
