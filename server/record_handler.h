// The one generic record path. Every resource service's Get/List/Create/
// Update/Delete forwards here; the request and response messages are
// handled through protobuf reflection, so the same code (and the same
// enforcement) serves every object type.
//
// Each method runs the request path in order and returns at the first
// refusal:
//   AuthenticateRequest -> validate input -> Evaluator::CheckObject ->
//   store (in a transaction for writes) -> Evaluator::CheckRecord ->
//   field permissions (mask on read, refuse on write) -> response.
// Nothing reaches storage before the object permission check, and a record
// the caller may not see is NOT_FOUND exactly like a missing one.
//
// Thread-safety: a RecordHandler is immutable after construction and serves
// concurrent calls.
#ifndef CRM_SERVER_RECORD_HANDLER_H_
#define CRM_SERVER_RECORD_HANDLER_H_

#include <memory>

#include "auth/clock.h"
#include "auth/service_registry.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "model/object_schema.h"
#include "policy/policy_holder.h"
#include "query/page_token.h"
#include "store/database.h"
#include "store/record_store.h"

namespace crm::server {

class RequestAuthenticator;  // server/request_context.h
class Metrics;              // server/metrics.h
class Pipeline;             // server/pipeline.h

// State shared by every handler; owned by CrmServer.
struct ServerCore {
  crm::internal::ServerConfig config;
  auth::Clock* clock = nullptr;
  std::unique_ptr<store::Database> database;
  std::unique_ptr<store::RecordStore> records;
  std::shared_ptr<const auth::ServiceRegistry> services;
  std::unique_ptr<policy::PolicyHolder> policy;
  std::unique_ptr<query::PageTokenCodec> page_tokens;
  // Sessions and login restrictions (AuthenticateRequest).
  std::shared_ptr<const RequestAuthenticator> authn;
  // Null when ServerConfig.metrics.listen_address is empty.
  std::unique_ptr<Metrics> metrics;
  // The one request pipeline (pipeline.h); every handler runs through it.
  std::unique_ptr<Pipeline> pipeline;
};

class RecordHandler {
 public:
  // `schema` and `core` must outlive the handler.
  RecordHandler(const model::ObjectSchema& schema, ServerCore* core);

  // Request shapes are those of crm_service.proto (by field name/number).
  grpc::Status Get(grpc::ServerContext* context,
                   const google::protobuf::Message& request,
                   google::protobuf::Message* response);
  grpc::Status List(grpc::ServerContext* context,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response);
  grpc::Status Create(grpc::ServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response);
  grpc::Status Update(grpc::ServerContext* context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response);
  grpc::Status Delete(grpc::ServerContext* context,
                      const google::protobuf::Message& request);

 private:
  const model::ObjectSchema& schema_;
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_RECORD_HANDLER_H_
