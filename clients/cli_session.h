// State of one crmctl invocation, shared by its command handlers.
#ifndef CRM_CLIENTS_CLI_SESSION_H_
#define CRM_CLIENTS_CLI_SESSION_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/cli.h"
#include "clients/cli_args.h"
#include "clients/crm_client.h"

namespace crm::client {

// Not thread-safe; one per RunCli call.
class CliSession {
 public:
  CliSession(const GlobalOptions& globals, const CliDeps& deps,
             std::ostream& out, std::ostream& err)
      : globals_(globals), deps_(deps), out_(out), err_(err) {}

  const GlobalOptions& globals() const { return globals_; }
  const CliDeps& deps() const { return deps_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }

  // Connects on first use (certificate files are read then).
  absl::StatusOr<CrmClient*> Client();

  // Calls `method` with a fresh context from the client; a server error is
  // returned marked with RpcError.
  absl::Status Call(const google::protobuf::MethodDescriptor* method,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response);

  // The same for a method named as FindMethod accepts, e.g.
  // "crm.v1.SharingService/ShareRecord".
  absl::Status Call(absl::string_view method,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response);

  // Prints one message: FormatRecord or FormatJson by --output.
  absl::Status PrintRecord(const google::protobuf::Message& message);
  // Prints JSON regardless of --output.
  absl::Status PrintJson(const google::protobuf::Message& message);

 private:
  const GlobalOptions& globals_;
  const CliDeps& deps_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<CrmClient> client_;
};

// Calls a List method (by name, as CliSession::Call) until the last page,
// appending every page to `all` (whose next_page_token ends up empty).
// Request and Response are generated messages with page_token and
// next_page_token.
template <typename Request, typename Response>
absl::Status ListAll(CliSession& s, absl::string_view method, Request request,
                     Response* all) {
  for (;;) {
    Response page;
    if (auto st = s.Call(method, request, &page); !st.ok()) return st;
    all->MergeFrom(page);
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  all->clear_next_page_token();
  return absl::OkStatus();
}

// Writes what `write` puts on its stream to `path`, or to the session's
// output for "-". A file is written as "{path}.partial" and renamed to
// `path` only when `write` succeeded and every byte reached the disk, so a
// failed or interrupted export or report never leaves a file that looks
// whole (the partial file is removed).
absl::Status WriteOutput(
    CliSession& s, const std::string& path,
    const std::function<absl::Status(std::ostream&)>& write);

}  // namespace crm::client

#endif  // CRM_CLIENTS_CLI_SESSION_H_
