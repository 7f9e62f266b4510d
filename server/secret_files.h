// Files that hold secrets must be private to the server's user.
//
// The TLS private key (tls.key_file) and the page token secret
// (page_token_secret_file) let whoever reads them impersonate the server or
// forge page tokens. Start() refuses a configuration where either is
// accessible to group or others (any of the mode bits 077, as OpenSSH does
// for its keys), with FAILED_PRECONDITION naming the field, the path, the
// mode and the fix (`chmod 600 PATH`). With allow_insecure_key_permissions
// set, it logs a warning per file instead and starts.
//
// The mode is that of the file a symbolic link points to (stat(2)), which is
// what a reader gets; Kubernetes secret volumes, for example, need
// `defaultMode: 0400` (their default, 0644, is refused). Files are checked
// once, at start: a key rotated later by the TLS file watcher is not
// checked again. An empty path (no secret file configured) and a file that
// cannot be stat'ed pass here; the code that reads the file reports those.
#ifndef CRM_SERVER_SECRET_FILES_H_
#define CRM_SERVER_SECRET_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crm/internal/server_config.pb.h"

namespace crm::server {

// Checks one file; `field` names it in messages (e.g. "tls.key_file").
absl::Status CheckSecretFileMode(absl::string_view field,
                                 const std::string& path, bool allow_insecure);

// tls.key_file and page_token_secret_file of `config`, under its
// allow_insecure_key_permissions.
absl::Status CheckSecretFiles(const crm::internal::ServerConfig& config);

}  // namespace crm::server

#endif  // CRM_SERVER_SECRET_FILES_H_
