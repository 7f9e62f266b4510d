// The gRPC adapter of the generic record path. Every resource service's
// Get/List/Create/Update/Delete forwards here (resource_services.h); the
// lifecycle itself (validation, policy checks, storage, stamping, etags,
// retries, idempotent creates) is records/record_ops.h, which knows nothing
// of gRPC.
//
// Each method is the transport prologue and epilogue around one records/
// call: AuthenticateRequest -> request size limit -> policy::Evaluator for
// the principal on the current snapshot -> records::X -> one log line ->
// ToGrpcStatus. It adds no decision of its own.
//
// Thread-safety: a RecordHandler is immutable after construction and serves
// concurrent calls.
#ifndef CRM_SERVER_RECORD_HANDLER_H_
#define CRM_SERVER_RECORD_HANDLER_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "model/object_schema.h"
// Not needed by this header's own declarations beyond ServerCore, but kept
// so that files which still reach ServerCore through this header build;
// include server/server_core.h directly instead.
#include "server/pipeline.h"
#include "server/server_core.h"

namespace crm::server {

// Runs `fn(deps, evaluator)` (a records/ function) through the request
// pipeline as "{service}/{method}", its decisions recorded as record
// decisions: the one way in for the services about one record (sharing,
// provenance), like RecordHandler for the resource services.
template <typename Fn>
grpc::Status RunRecordMethod(grpc::ServerContext* context, ServerCore* core,
                             absl::string_view service,
                             absl::string_view method,
                             const google::protobuf::Message& request, Fn fn) {
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, absl::StrCat(service, "/", method), request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.decision_kind = "record"});
}

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
