#include "bench/unprotected_read_service.h"

#include <optional>
#include <string>

#include "model/object_schema.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "server/server_core.h"
#include "server/status_util.h"

namespace crm::bench {

UnprotectedReadService::UnprotectedReadService(const records::Deps& deps)
    : deps_(deps) {}

grpc::Status UnprotectedReadService::GetAccount(
    grpc::ServerContext* /*context*/,
    const crm::bench::v1::GetAccountRequest* request,
    crm::v1::Account* response) {
  static const model::ObjectSchema& accounts =
      *model::SchemaRegistry::Default().Find("accounts");
  auto name = model::ParseResourceName(request->name(),
                                       {accounts.collection()}, "name");
  if (!name.ok()) return server::ToGrpcStatus(name.status());
  std::optional<model::Record> record;
  absl::Status s = deps_.database->WithSession([&](store::Session& session) {
    auto r = deps_.records->Get(session, accounts, name->id);
    if (!r.ok()) return r.status();
    record = *std::move(r);
    return absl::OkStatus();
  });
  if (!s.ok()) return server::ToGrpcStatus(s);
  if (!record.has_value()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, request->name());
  }
  model::RecordToMessage(accounts, *record, response);
  return grpc::Status::OK;
}

server::CrmServer::ExtraService UnprotectedReadServiceFactory() {
  return [](server::ServerCore& core) -> std::unique_ptr<grpc::Service> {
    return std::make_unique<UnprotectedReadService>(core.RecordDeps());
  };
}

}  // namespace crm::bench
