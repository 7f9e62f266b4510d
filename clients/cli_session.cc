#include "clients/cli_session.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

#include "clients/descriptor_catalog.h"
#include "clients/error_details.h"
#include "clients/generic_call.h"
#include "clients/output_format.h"

namespace crm::client {

absl::StatusOr<CrmClient*> CliSession::Client() {
  if (client_ == nullptr) {
    absl::StatusOr<std::unique_ptr<CrmClient>> client =
        deps_.connect ? deps_.connect(globals_)
                      : CrmClient::Create(globals_.channel);
    if (!client.ok()) return client.status();
    client_ = *std::move(client);
    client_->set_session_token(globals_.token);
    client_->set_forwarded_for(globals_.forwarded_for);
  }
  return client_.get();
}

absl::Status CliSession::Call(const google::protobuf::MethodDescriptor* method,
                              const google::protobuf::Message& request,
                              google::protobuf::Message* response) {
  auto client = Client();
  if (!client.ok()) return client.status();
  auto context = (*client)->NewContext();
  grpc::Status s =
      CallUnary((*client)->generic(), context.get(), method, request, response);
  if (s.ok()) return absl::OkStatus();
  // Keeps the server's error details for RunCli to print.
  return RpcError(ToAbslStatus(s));
}

absl::Status CliSession::Call(absl::string_view method,
                              const google::protobuf::Message& request,
                              google::protobuf::Message* response) {
  auto found = FindMethod(method);
  if (!found.ok()) return found.status();
  return Call(*found, request, response);
}

absl::Status CliSession::PrintRecord(const google::protobuf::Message& message) {
  if (globals_.output == OutputFormat::kJson) return PrintJson(message);
  out_ << FormatRecord(message);
  return absl::OkStatus();
}

absl::Status CliSession::PrintJson(const google::protobuf::Message& message) {
  auto json = FormatJson(message);
  if (!json.ok()) return json.status();
  out_ << *json;
  return absl::OkStatus();
}

absl::Status WriteOutput(
    CliSession& s, const std::string& path,
    const std::function<absl::Status(std::ostream&)>& write) {
  if (path == "-") return write(s.out());
  const std::string partial = path + ".partial";
  std::ofstream file(partial, std::ios::trunc | std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write '", partial, "'"));
  }
  absl::Status st = write(file);
  file.close();
  if (st.ok() && !file) {
    st = absl::DataLossError(absl::StrCat("writing '", path, "' failed"));
  }
  if (!st.ok()) {
    std::remove(partial.c_str());
    return st;
  }
  if (std::rename(partial.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename to '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace crm::client
