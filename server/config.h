// Loading and validating the server configuration (ServerConfig in
// proto/crm/internal/server_config.proto, protobuf text format). Relative
// paths in the file are relative to the server's working directory.
#ifndef CRM_SERVER_CONFIG_H_
#define CRM_SERVER_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "crm/internal/server_config.pb.h"

namespace crm::server {

// Parses a text-format file. INVALID_ARGUMENT with "path:line:column: ..."
// on a syntax error or unknown field; NOT_FOUND if the file is missing.
absl::StatusOr<crm::internal::ServerConfig> LoadConfigFile(
    const std::string& path);

// Fills defaults (documented in the proto) and checks required fields:
// listen_address, database, the three TLS files, at least one service.
absl::Status FinalizeConfig(crm::internal::ServerConfig* config);

}  // namespace crm::server

#endif  // CRM_SERVER_CONFIG_H_
