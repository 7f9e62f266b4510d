// ServerCore: the state every gRPC service of the server shares (config,
// clock, database, record store, service registry, policy, page tokens,
// request authentication). Owned by CrmServer (server.h); services hold a
// pointer and must not outlive it.
//
// The record lifecycle (records/) does not see ServerCore: RecordDeps()
// hands it the part it needs.
//
// Thread-safety: the members are set up before serving and not reassigned
// while serving; each pointee documents its own thread-safety.
#ifndef CRM_SERVER_SERVER_CORE_H_
#define CRM_SERVER_SERVER_CORE_H_

#include <functional>
#include <memory>

#include "auth/clock.h"
#include "auth/service_registry.h"
#include "crypto/master_key.h"
#include "crm/internal/server_config.pb.h"
#include "policy/policy_holder.h"
#include "query/page_token.h"
#include "records/deps.h"
#include "server/audit_settings.h"
#include "store/audit_log.h"
#include "store/database.h"
#include "store/record_store.h"

namespace crm::server {

class RequestAuthenticator;  // server/request_context.h
class Metrics;              // server/metrics.h
class Pipeline;             // server/pipeline.h
class ShadowPolicy;         // server/shadow_policy.h

// State shared by every handler; owned by CrmServer.
struct ServerCore {
  crm::internal::ServerConfig config;
  auth::Clock* clock = nullptr;
  std::unique_ptr<store::Database> database;
  std::unique_ptr<store::RecordStore> records;
  // The master key (EncryptionConfig.master_key_file), loaded before
  // anything else; null when no resource has a sensitive field. Start-up
  // (PrepareDatabase) loads the data keys under it and hands them to
  // `records` (RecordStore::SetEncryption).
  std::shared_ptr<const crypto::MasterKey> master_key;
  std::shared_ptr<const auth::ServiceRegistry> services;
  std::unique_ptr<policy::PolicyHolder> policy;
  std::unique_ptr<query::PageTokenCodec> page_tokens;
  // Sessions and login restrictions (AuthenticateRequest).
  std::shared_ptr<const RequestAuthenticator> authn;
  // Null when ServerConfig.metrics.listen_address is empty.
  std::unique_ptr<Metrics> metrics;
  // The one request pipeline (pipeline.h); every handler runs through it.
  std::unique_ptr<Pipeline> pipeline;
  // Installs a policy snapshot at least the given version, or says why it
  // cannot (PolicyLoader::AwaitVersion with the server's wait); for requests
  // that carry a consistency token (base/consistency.h). Unset: such a
  // request is UNAVAILABLE unless the installed snapshot is new enough.
  std::function<absl::Status(int64_t)> await_policy_version;
  // The shadow policy (shadow_policy.h); null only in tests that build a
  // core by hand.
  std::unique_ptr<ShadowPolicy> shadow;
  // The audit trail (crm/v1/audit_service.proto) and its settings. Null
  // audit only in tests that build a core by hand.
  AuditSettings audit_settings;
  std::unique_ptr<store::AuditLog> audit;

  // What records/ needs, borrowed from this core.
  records::Deps RecordDeps() const {
    records::Deps deps;
    deps.database = database.get();
    deps.records = records.get();
    deps.page_tokens = page_tokens.get();
    deps.clock = clock;
    deps.audit = audit.get();
    deps.audit_tracked_fields = &audit_settings.tracked_fields;
    return deps;
  }
};

}  // namespace crm::server

#endif  // CRM_SERVER_SERVER_CORE_H_
