#include "server/config.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/connection_limits.h"

namespace crm::server {
namespace {

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string path) : path_(std::move(path)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = absl::StrCat(path_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string path_;
  std::string first_;
};

}  // namespace

absl::StatusOr<crm::internal::ServerConfig> LoadConfigFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("config file ", path, " cannot be read"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  crm::internal::ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors(path);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(buffer.str(), &config)) {
    return absl::InvalidArgumentError(
        errors.first().empty() ? absl::StrCat(path, ": cannot parse config")
                               : errors.first());
  }
  return config;
}

absl::Status FinalizeConfig(crm::internal::ServerConfig* config) {
  if (config->listen_address().empty()) {
    config->set_listen_address("127.0.0.1:8443");
  }
  // The embedded default: SQLite in the working directory.
  if (config->database().empty()) config->set_database("sqlite:var/crm.db");
  if (config->database_pool_size() == 0) config->set_database_pool_size(8);
  auto* tls = config->mutable_tls();
  if (tls->ca_file().empty() || tls->cert_file().empty() ||
      tls->key_file().empty()) {
    return absl::InvalidArgumentError(
        "config: tls.ca_file, tls.cert_file and tls.key_file are required "
        "(the server only speaks mutual TLS); make dev certificates with "
        "certs/make-dev-certs.sh");
  }
  if (tls->refresh_interval_seconds() == 0) tls->set_refresh_interval_seconds(10);
  if (config->services_size() == 0) {
    return absl::InvalidArgumentError(
        "config: no services are registered; every caller must be a "
        "registered service (services { name: ... identities: ... })");
  }
  auto* auth = config->mutable_auth();
  if (auth->session_idle_seconds() == 0) auth->set_session_idle_seconds(1800);
  if (auth->session_absolute_seconds() == 0) {
    auth->set_session_absolute_seconds(12 * 3600);
  }
  if (auth->lockout_threshold() == 0) auth->set_lockout_threshold(5);
  if (auth->lockout_seconds() == 0) auth->set_lockout_seconds(900);
  auto* limits = config->mutable_limits();
  if (limits->max_receive_message_bytes() == 0) {
    limits->set_max_receive_message_bytes(16 << 20);
  }
  if (limits->max_request_bytes() == 0) limits->set_max_request_bytes(1 << 20);
  FillConnectionDefaults(config->mutable_connections());
  if (config->shutdown_grace_seconds() == 0) config->set_shutdown_grace_seconds(10);
  if (config->log_level().empty()) config->set_log_level("info");
  if (config->log_level() != "info" && config->log_level() != "debug") {
    return absl::InvalidArgumentError(absl::StrCat(
        "config: log_level must be \"info\" or \"debug\", not \"",
        config->log_level(), "\""));
  }
  return absl::OkStatus();
}

}  // namespace crm::server
