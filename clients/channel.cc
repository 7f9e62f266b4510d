#include "clients/channel.h"

#include "clients/consistency.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clients/descriptor_catalog.h"

namespace crm::client {
namespace {

// Reads a PEM file given by option `flag`; `marker` must appear in it
// ("CERTIFICATE", "PRIVATE KEY").
absl::StatusOr<std::string> ReadPem(const std::string& path,
                                    const std::string& flag,
                                    const std::string& marker) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string why = std::strerror(errno);
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": cannot read '", path, "': ", why, " (set it with ", flag,
        " or the matching CRM_* variable)"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string pem = buffer.str();
  if (!absl::StrContains(pem, "-----BEGIN") ||
      !absl::StrContains(pem, marker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", path, "' is not a PEM file with a ", marker));
  }
  return pem;
}

absl::StatusOr<grpc::SslCredentialsOptions> LoadCredentials(
    const ChannelOptions& options) {
  grpc::SslCredentialsOptions ssl;
  if (!options.ca_file.empty()) {
    auto ca = ReadPem(options.ca_file, "--ca", "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a client certificate and its key go together: got --cert '",
        options.cert_file, "' and --key '", options.key_file, "'"));
  }
  if (!options.cert_file.empty()) {
    auto cert = ReadPem(options.cert_file, "--cert", "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(options.key_file, "--key", "PRIVATE KEY");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return ssl;
}

}  // namespace

bool IsIdempotentMethodName(const std::string& method_name) {
  for (const char* prefix : {"Get", "List", "WhoAmI", "Echo"}) {
    if (absl::StartsWith(method_name, prefix)) return true;
  }
  return false;
}

std::vector<std::string> IdempotentMethodNames() {
  std::vector<std::string> names;
  for (const auto* service : CrmServices()) {
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* method = service->method(i);
      if (method->client_streaming()) continue;  // Cannot be replayed.
      if (IsIdempotentMethodName(method->name())) {
        names.push_back(
            absl::StrCat(service->full_name(), "/", method->name()));
      }
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string RetryServiceConfigJson(const std::vector<std::string>& methods,
                                   int max_attempts) {
  if (max_attempts < 2 || methods.empty()) return R"({"methodConfig": []})";
  std::vector<std::string> names;
  for (const std::string& m : methods) {
    size_t slash = m.find('/');
    names.push_back(absl::StrCat(R"({"service": ")", m.substr(0, slash),
                                 R"(", "method": ")", m.substr(slash + 1),
                                 R"("})"));
  }
  return absl::StrCat(
      R"({"methodConfig": [{"name": [)", absl::StrJoin(names, ", "),
      R"(], "retryPolicy": {"maxAttempts": )", std::min(max_attempts, 5),
      R"(, "initialBackoff": "0.1s", "maxBackoff": "2s", )",
      R"("backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})");
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ChannelOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError(
        "no server address: set --target or CRM_TARGET, e.g. localhost:8443");
  }
  auto ssl = LoadCredentials(options);
  if (!ssl.ok()) return ssl.status();
  grpc::ChannelArguments args;
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  args.SetServiceConfigJSON(
      RetryServiceConfigJson(IdempotentMethodNames(), options.max_attempts));
  if (options.consistency != nullptr) {
    std::vector<std::unique_ptr<
        grpc::experimental::ClientInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(ConsistencyInterceptorFactory(options.consistency));
    return grpc::experimental::CreateCustomChannelWithInterceptors(
        options.target, grpc::SslCredentials(*ssl), args,
        std::move(interceptors));
  }
  return grpc::CreateCustomChannel(options.target, grpc::SslCredentials(*ssl),
                                   args);
}

}  // namespace crm::client
