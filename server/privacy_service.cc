#include "server/privacy_service.h"

#include "absl/strings/str_cat.h"
#include "server/pipeline.h"

namespace crm::server {
namespace {

absl::StatusOr<records::PrivacyKeys> MakeKeys(ServerCore* core) {
  if (core->master_key == nullptr || core->audit == nullptr) {
    return absl::FailedPreconditionError(
        "subject requests need the server's master key "
        "(encryption.master_key_file) and audit signing key: this server "
        "has none");
  }
  return records::PrivacyKeys::Create(*core->master_key,
                                      &core->audit->signer());
}

template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 const char* method, const google::protobuf::Message& request,
                 Fn fn) {
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.PrivacyService/", method), request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.requires_permission = crm::v1::PRIVACY_OPERATIONS,
       .decision_kind = "system"});
}

}  // namespace

PrivacyServiceImpl::PrivacyServiceImpl(ServerCore* core)
    : core_(core), keys_(MakeKeys(core)) {}

grpc::Status PrivacyServiceImpl::ExportSubject(
    grpc::ServerContext* context, const crm::v1::ExportSubjectRequest* request,
    crm::v1::ExportSubjectResponse* response) {
  return Run(context, core_, "ExportSubject", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               if (!keys_.ok()) return keys_.status();
               return records::ExportSubject(deps, eval, *keys_, *request,
                                             response);
             });
}

grpc::Status PrivacyServiceImpl::EraseSubject(
    grpc::ServerContext* context, const crm::v1::EraseSubjectRequest* request,
    crm::v1::EraseSubjectResponse* response) {
  return Run(context, core_, "EraseSubject", *request,
             [&](const records::Deps& deps, const policy::Evaluator&) {
               if (!keys_.ok()) return keys_.status();
               return records::EraseSubject(deps, *keys_,
                                            records::DefaultErasureRules(),
                                            *request, response);
             });
}

grpc::Status PrivacyServiceImpl::GetErasureReceipt(
    grpc::ServerContext* context,
    const crm::v1::GetErasureReceiptRequest* request,
    crm::v1::ErasureReceipt* response) {
  return Run(context, core_, "GetErasureReceipt", *request,
             [&](const records::Deps& deps, const policy::Evaluator&) {
               return records::GetErasureReceipt(deps, *request, response);
             });
}

grpc::Status PrivacyServiceImpl::GetErasureRules(
    grpc::ServerContext* context,
    const crm::v1::GetErasureRulesRequest* request,
    crm::v1::ErasureRules* response) {
  return Run(context, core_, "GetErasureRules", *request,
             [&](const records::Deps&, const policy::Evaluator&) {
               *response = records::DefaultErasureRules();
               return absl::OkStatus();
             });
}

grpc::Status PrivacyServiceImpl::PreviewRetention(
    grpc::ServerContext* context,
    const crm::v1::PreviewRetentionRequest* request,
    crm::v1::RetentionReport* response) {
  return Run(context, core_, "PreviewRetention", *request,
             [&](const records::Deps& deps, const policy::Evaluator&) {
               return records::PreviewRetention(
                   deps, core_->config.privacy().retention_rules(), response);
             });
}

grpc::Status PrivacyServiceImpl::RunRetention(
    grpc::ServerContext* context, const crm::v1::RunRetentionRequest* request,
    crm::v1::RetentionRun* response) {
  return Run(context, core_, "RunRetention", *request,
             [&](const records::Deps& deps, const policy::Evaluator&) {
               records::RetentionOptions options;
               options.batch_size = static_cast<int>(
                   core_->config.privacy().retention_batch_size());
               options.trigger = "manual";
               // Stops between batches when the caller goes away.
               options.stop = [context] {
                 return context->IsCancelled() ||
                        context->deadline() <= std::chrono::system_clock::now();
               };
               return records::RunRetention(
                   deps, core_->config.privacy().retention_rules(), options,
                   response);
             });
}

grpc::Status PrivacyServiceImpl::ListRetentionRuns(
    grpc::ServerContext* context,
    const crm::v1::ListRetentionRunsRequest* request,
    crm::v1::ListRetentionRunsResponse* response) {
  return Run(context, core_, "ListRetentionRuns", *request,
             [&](const records::Deps& deps, const policy::Evaluator&) {
               return records::ListRetentionRuns(deps, *request, response);
             });
}

}  // namespace crm::server
