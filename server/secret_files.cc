#include "server/secret_files.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace crm::server {

absl::Status CheckSecretFileMode(absl::string_view field,
                                 const std::string& path, bool allow_insecure) {
  if (path.empty()) return absl::OkStatus();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return absl::OkStatus();
  const mode_t exposed = st.st_mode & (S_IRWXG | S_IRWXO);
  if (exposed == 0) return absl::OkStatus();
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o",
                static_cast<unsigned>(st.st_mode & 07777));
  if (allow_insecure) {
    LogWarning("config.insecure_key_permissions",
               {{"field", std::string(field)},
                {"path", path},
                {"mode", mode},
                {"detail",
                 "readable by group or others; started anyway because "
                 "allow_insecure_key_permissions is set"}});
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      field, " ", path, " has mode ", mode,
      ": it holds a secret and must not be accessible to group or others; "
      "run `chmod 600 ",
      path,
      "` (or set allow_insecure_key_permissions: true in the server config "
      "to start anyway)"));
}

absl::Status CheckSecretFiles(const crm::internal::ServerConfig& config) {
  const bool allow = config.allow_insecure_key_permissions();
  if (absl::Status s =
          CheckSecretFileMode("tls.key_file", config.tls().key_file(), allow);
      !s.ok()) {
    return s;
  }
  return CheckSecretFileMode("page_token_secret_file",
                             config.page_token_secret_file(), allow);
}

}  // namespace crm::server
