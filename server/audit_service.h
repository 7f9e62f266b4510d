// AuditService (crm/v1/audit_service.proto): the audit trail for holders of
// VIEW_AUDIT. Thin: the filter is query/'s, storage is store/audit_store.h,
// verification is audit/verifier.h. Every call runs through the pipeline,
// which records the auditor's own queries (audit.list, audit.export,
// audit.verify).
#ifndef CRM_SERVER_AUDIT_SERVICE_H_
#define CRM_SERVER_AUDIT_SERVICE_H_

#include "crm/v1/audit_service.grpc.pb.h"
#include "model/object_schema.h"
#include "server/server_core.h"

namespace crm::server {

// The filter-only schema of audit_events' columns
// (crm.internal.AuditEventColumns): what ListAuditEvents' filter, and the
// access review's queries of the trail, are checked against.
const model::ObjectSchema& AuditColumnsSchema();

class AuditServiceImpl final : public crm::v1::AuditService::Service {
 public:
  // `core` (with its audit log) must outlive the service.
  explicit AuditServiceImpl(const ServerCore* core) : core_(core) {}

  grpc::Status ListAuditEvents(
      grpc::ServerContext* context,
      const crm::v1::ListAuditEventsRequest* request,
      crm::v1::ListAuditEventsResponse* response) override;
  grpc::Status ExportAuditEvents(
      grpc::ServerContext* context,
      const crm::v1::ExportAuditEventsRequest* request,
      grpc::ServerWriter<crm::v1::AuditExportLine>* writer) override;
  grpc::Status VerifyAuditLog(grpc::ServerContext* context,
                              const crm::v1::VerifyAuditLogRequest* request,
                              crm::v1::AuditVerification* response) override;
  grpc::Status GetAuditPublicKey(
      grpc::ServerContext* context,
      const crm::v1::GetAuditPublicKeyRequest* request,
      crm::v1::AuditPublicKey* response) override;

 private:
  const ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_AUDIT_SERVICE_H_
