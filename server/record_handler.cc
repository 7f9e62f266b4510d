#include "server/record_handler.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/record_ops.h"
#include "server/log.h"
#include "server/request_context.h"
#include "server/status_util.h"

namespace crm::server {
namespace {

using google::protobuf::Message;
using model::ObjectSchema;
using policy::Evaluator;

// Runs the shared prologue (who is calling, under which policy) and one
// records/ operation, logging refusals at info and successes at debug.
// `fn(eval)` returns the operation's absl::Status.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, const ObjectSchema& schema,
                 ServerCore* core, const char* method, const Message& message,
                 Fn fn) {
  absl::StatusOr<RequestContext> rc = AuthenticateRequest(*context, *core);
  if (!rc.ok()) return ToGrpcStatus(rc.status());
  size_t size = message.ByteSizeLong();
  if (size > core->config.limits().max_request_bytes()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("request is ", size, " bytes; the limit is ",
                     core->config.limits().max_request_bytes(),
                     " (see FieldBehavior.max_length in resources.proto for "
                     "field limits)")));
  }
  const Evaluator eval(core->policy->Current(), rc->principal);
  absl::Status s = fn(core->RecordDeps(), eval);
  // Refusals and failures at info, successes at debug: one structured line
  // per call that a person may need to explain.
  LogLevel level = s.ok() ? LogLevel::kDebug : LogLevel::kInfo;
  if (LogEnabled(level)) {
    Log(level, s.ok() ? "request.ok" : "request.refused",
        {{"method", method},
         {"collection", schema.collection()},
         {"principal", rc->principal.ResourceName()},
         {"peer", rc->peer},
         {"code", absl::StatusCodeToString(s.code())},
         {"message", std::string(s.message())}});
  }
  return ToGrpcStatus(s);
}

}  // namespace

RecordHandler::RecordHandler(const ObjectSchema& schema, ServerCore* core)
    : schema_(schema), core_(core) {}

grpc::Status RecordHandler::Get(grpc::ServerContext* context,
                                const Message& request, Message* response) {
  return Run(context, schema_, core_, "Get", request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Get(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::List(grpc::ServerContext* context,
                                 const Message& request, Message* response) {
  return Run(context, schema_, core_, "List", request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::List(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Create(grpc::ServerContext* context,
                                   const Message& request, Message* response) {
  return Run(context, schema_, core_, "Create", request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Create(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Update(grpc::ServerContext* context,
                                   const Message& request, Message* response) {
  return Run(context, schema_, core_, "Update", request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Update(deps, eval, schema_, request, response);
             });
}

grpc::Status RecordHandler::Delete(grpc::ServerContext* context,
                                   const Message& request) {
  return Run(context, schema_, core_, "Delete", request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Delete(deps, eval, schema_, request);
             });
}

}  // namespace crm::server
