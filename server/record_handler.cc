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
// `read`: the method reads records (Get, List), which the audit trail
// records when AuditConfig.reads is "all" for the object; `response`, when
// given, is a List response whose record count goes in that event.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, const ObjectSchema& schema,
                 ServerCore* core, const Message& request, Fn fn,
                 bool read = false, const Message* list_response = nullptr,
                 const std::string* grant = nullptr) {
  std::string method = request.GetDescriptor()->name();
  method.resize(method.size() - std::strlen("Request"));
  const std::string full = absl::StrCat(
      "crm.v1.", schema.descriptor()->name(), "Service/", method);
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, full, request,
      [&](const Call& call) {
        absl::Status s = fn(deps, call.evaluator());
        if (s.ok() && grant != nullptr) call.audit().set_reason(*grant);
        if (s.ok() && list_response != nullptr) {
          const auto* d = list_response->GetDescriptor();
          const auto* records = d->FindFieldByName(schema.collection());
          if (records != nullptr) {
            (*call.audit().mutable_attributes())["count"] = absl::StrCat(
                list_response->GetReflection()->FieldSize(*list_response,
                                                          records));
          }
          if (const auto* f = request.GetDescriptor()->FindFieldByName("filter");
              f != nullptr) {
            (*call.audit().mutable_attributes())["filter"] =
                request.GetReflection()->GetString(request, f);
          }
          call.audit().set_resource(schema.collection());
        }
        return s;
      },
      {.decision_kind = "record",
       .audit_read_object = read ? absl::string_view(schema.collection())
                                 : absl::string_view()});
}

}  // namespace

RecordHandler::RecordHandler(const ObjectSchema& schema, ServerCore* core)
    : schema_(schema), core_(core) {}

grpc::Status RecordHandler::Get(grpc::ServerContext* context,
                                const Message& request, Message* response) {
  const bool audited = core_->audit_settings.ReadsOf(schema_.collection()) ==
                       AuditReads::kAll;
  std::string grant;
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::Get(deps, eval, schema_, request, response,
                                   audited ? &grant : nullptr);
             },
             /*read=*/true, nullptr, &grant);
}

grpc::Status RecordHandler::List(grpc::ServerContext* context,
                                 const Message& request, Message* response) {
  return Run(context, schema_, core_, request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::List(deps, eval, schema_, request, response);
             },
             /*read=*/true, response);
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
