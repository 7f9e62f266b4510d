// Fuzz target: the server configuration (server/config.h): LoadConfigFile
// on a text-format file, then FinalizeConfig.
//
// Input: the file's contents. They are written to an in-memory file
// (memfd) that LoadConfigFile opens as /proc/self/fd/N, so the target runs
// the real file path without touching the disk.
// Properties:
//   - LoadConfigFile never crashes; a refusal is INVALID_ARGUMENT starting
//     with the path (and, for a syntax error, "path:line:column: ").
//   - An accepted config prints (TextFormat) to a text that loads to an
//     equal config.
//   - FinalizeConfig never crashes; a refusal is INVALID_ARGUMENT
//     "config: ...". Accepted: the required fields are set (listen address,
//     database, pool size, the three TLS files, a service, a known log
//     level), and finalizing again changes nothing.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/internal/server_config.pb.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/config.h"

namespace crm::server {
namespace {

using crm::internal::ServerConfig;
using google::protobuf::util::MessageDifferencer;

class MemFile {
 public:
  MemFile() {
    fd_ = memfd_create("crm-config-fuzz", 0);
    FUZZ_CHECK(fd_ >= 0) << "memfd_create failed";
    path_ = absl::StrCat("/proc/self/fd/", fd_);
  }
  const std::string& path() const { return path_; }
  void Write(absl::string_view contents) {
    FUZZ_CHECK(ftruncate(fd_, 0) == 0);
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n =
          pwrite(fd_, contents.data() + done, contents.size() - done,
                 static_cast<off_t>(done));
      FUZZ_CHECK(n > 0) << "pwrite failed";
      done += static_cast<size_t>(n);
    }
  }

 private:
  int fd_ = -1;
  std::string path_;
};

MemFile& File() {
  static auto* file = new MemFile();
  return *file;
}

absl::StatusOr<ServerConfig> Load(absl::string_view text) {
  File().Write(text);
  return LoadConfigFile(File().path());
}

void CheckFinalized(const ServerConfig& c) {
  FUZZ_CHECK(!c.listen_address().empty());
  FUZZ_CHECK(!c.database().empty());
  FUZZ_CHECK(c.database_pool_size() != 0);
  FUZZ_CHECK(!c.tls().ca_file().empty() && !c.tls().cert_file().empty() &&
             !c.tls().key_file().empty());
  FUZZ_CHECK(c.tls().refresh_interval_seconds() != 0);
  FUZZ_CHECK(c.services_size() > 0);
  FUZZ_CHECK(c.log_level() == "info" || c.log_level() == "debug")
      << c.log_level();
  FUZZ_CHECK(c.auth().session_idle_seconds() != 0 &&
             c.auth().session_absolute_seconds() != 0);
  FUZZ_CHECK(c.limits().max_request_bytes() != 0 &&
             c.limits().max_receive_message_bytes() != 0);
}

}  // namespace
}  // namespace crm::server

// Protobuf logs every string field with invalid UTF-8 it refuses to parse;
// at thousands of inputs a second that is noise and most of the run time.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::server;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ServerConfig> config = Load(text);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument)
        << config.status();
    FUZZ_CHECK(absl::StartsWith(config.status().message(),
                                absl::StrCat(File().path(), ":")))
        << config.status();
    return 0;
  }

  std::string printed;
  FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(*config, &printed));
  absl::StatusOr<ServerConfig> reloaded = Load(printed);
  FUZZ_CHECK(reloaded.ok()) << reloaded.status() << "\nprinted:\n" << printed;
  FUZZ_CHECK(MessageDifferencer::Equals(*config, *reloaded))
      << "printed config loads differently:\n"
      << printed;

  ServerConfig finalized = *config;
  const absl::Status s = FinalizeConfig(&finalized);
  if (!s.ok()) {
    FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument) << s;
    FUZZ_CHECK(absl::StartsWith(s.message(), "config: ")) << s;
    return 0;
  }
  CheckFinalized(finalized);
  ServerConfig twice = finalized;
  const absl::Status again = FinalizeConfig(&twice);
  FUZZ_CHECK(again.ok()) << again;
  FUZZ_CHECK(MessageDifferencer::Equals(finalized, twice))
      << "FinalizeConfig is not idempotent";
  return 0;
}
