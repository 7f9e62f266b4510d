#include "server/record_handler.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/record_ops.h"
#include "server/pipeline.h"
#include "server/server_core.h"

namespace crm::server {
namespace {

using google::protobuf::Message;
using model::ObjectSchema;
using policy::Evaluator;

// Runs one records/ operation through the request pipeline. The method's
// full name follows crm_service.proto: "crm.v1.{Message}Service/" and the
// request type's name without "Request" (GetAccount, ListAccounts, ...);
// tests/pipeline_test.cc checks every one against the descriptors.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, const ObjectSchema& schema,
                 ServerCore* core, const Message& request, Fn fn) {
  std::string method = request.GetDescriptor()->name();
  method.resize(method.size() - std::strlen("Request"));
  const std::string full = absl::StrCat(
      "crm.v1.", schema.descriptor()->name(), "Service/", method);
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, full, request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.decision_kind = "record"});
}

}  // namespace

RecordHandler::RecordHandler(const ObjectSchema& schema, ServerCore* core)
    : schema_(schema), core_(core) {}

grpc::Status RecordHandler::Get(grpc::ServerContext* context,
                                const Message& request, Message* response) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Get(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::List(grpc::ServerContext* context,
                                 const Message& request, Message* response) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::List(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Create(grpc::ServerContext* context,
                                   const Message& request, Message* response) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Create(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Update(grpc::ServerContext* context,
                                   const Message& request, Message* response) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Update(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Delete(grpc::ServerContext* context,
                                   const Message& request) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Delete(deps, eval, schema_, request);
             });
}

}  // namespace crm::server
