// crmctl: a command-line client for every CRM service, driven entirely by
// the protobuf descriptors (no per-resource or per-service code).
//
//   crmctl [global flags] <collection> get|list|create|update|delete ...
//   crmctl [global flags] echo [TEXT]
//   crmctl [global flags] call SERVICE/METHOD [JSON]
//   crmctl [global flags] policy|share|unshare|shares|transfer ...
//       (policy_commands.h)
//
// Exit codes: 0 success; 1 usage or local error (bad flag, field, value or
// certificate file); 2 + the gRPC status code when the server answered with
// an error (e.g. 7 = NOT_FOUND, 9 = PERMISSION_DENIED, 12 = ABORTED,
// 16 = UNAVAILABLE, 18 = UNAUTHENTICATED). Errors print one line to `err`:
// "error: <CODE_NAME>: <message>".
#ifndef CRM_CLIENTS_CLI_H_
#define CRM_CLIENTS_CLI_H_

#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/cli_args.h"
#include "clients/crm_client.h"

namespace crm::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitRpcBase = 2;

// What RunCli needs from outside; replaceable in tests.
struct CliDeps {
  EnvLookup env = ProcessEnv();
  // Makes the client for the parsed global options. The default is
  // CrmClient::Create(options.channel). RunCli then applies the token and
  // forwarded-for options to whatever client this returns.
  std::function<absl::StatusOr<std::unique_ptr<CrmClient>>(
      const GlobalOptions&)>
      connect;
  // Where `login --password-stdin` reads the password (one line); null:
  // std::cin.
  std::istream* in = nullptr;
  // Prompts for a password without echo (when stdin is a terminal). The
  // default uses the terminal on file descriptor 0.
  std::function<absl::StatusOr<std::string>(const std::string& prompt)>
      read_password;
};

// Runs one crmctl invocation in-process. `args` excludes the program name.
// Writes results to `out` and diagnostics to `err`; returns the exit code.
// Thread-compatible: concurrent calls are fine if they share nothing.
int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err, const CliDeps& deps = CliDeps());

// argv form: argv[0] is the program name.
int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err);

// Marks a status as the server's answer (so its exit code is 2 + code).
absl::Status RpcError(absl::Status status);

// The exit code for a failed status (see the header comment).
int ExitCode(const absl::Status& status);

// The text of `crmctl --help`.
std::string UsageText();

}  // namespace crm::client

#endif  // CRM_CLIENTS_CLI_H_
