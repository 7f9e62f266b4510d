// Command-line parsing for crmctl: global flags (before the command) and
// per-command flags. Pure functions: no I/O, environment injected.
#ifndef CRM_CLIENTS_CLI_ARGS_H_
#define CRM_CLIENTS_CLI_ARGS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/channel.h"

namespace crm::client {

enum class OutputFormat { kTable, kJson };

struct GlobalOptions {
  ChannelOptions channel;
  std::string token;          // --token / CRM_TOKEN
  std::string forwarded_for;  // --forwarded-for
  OutputFormat output = OutputFormat::kTable;
  bool help = false;  // --help / -h
};

// Looks up an environment variable; nullopt if unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
EnvLookup ProcessEnv();

struct CommandLine {
  GlobalOptions globals;
  // The command and its arguments, e.g. {"accounts", "get", "accounts/1"}.
  std::vector<std::string> command;
};

// Parses global flags up to the first argument that is not a flag (or after
// "--"). Flags take "--flag value" or "--flag=value". Defaults: --target
// from CRM_TARGET else localhost:8443; --ca/--cert/--key from CRM_CA /
// CRM_CERT / CRM_KEY else certs/out/ca.pem, certs/out/admin-cli.pem,
// certs/out/admin-cli.key; --token from CRM_TOKEN. INVALID_ARGUMENT for an
// unknown flag, a missing or bad value.
absl::StatusOr<CommandLine> ParseGlobalFlags(
    const std::vector<std::string>& args, const EnvLookup& env);

// One flag a command accepts.
struct FlagSpec {
  std::string name;  // Without dashes: "page-size".
  bool takes_value;
};

struct CommandArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;  // Boolean flags map to "true".

  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::string Get(const std::string& flag) const {
    auto it = flags.find(flag);
    return it == flags.end() ? "" : it->second;
  }
};

// Splits a command's arguments into flags in `specs` and positionals, in any
// order ("--" makes the rest positional). INVALID_ARGUMENT, naming
// `command` and its flags, for an unknown or repeated flag or a missing
// value.
absl::StatusOr<CommandArgs> ParseCommandArgs(
    const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
    absl::string_view command);

// ParseCommandArgs, then INVALID_ARGUMENT "<command>: wrong arguments;
// usage: crmctl <usage>" unless there are min..max positionals.
absl::StatusOr<CommandArgs> ParseCommand(const std::vector<std::string>& args,
                                         const std::vector<FlagSpec>& specs,
                                         absl::string_view command, size_t min,
                                         size_t max, absl::string_view usage);

// The global flags' help text.
std::string GlobalFlagsHelp();

}  // namespace crm::client

#endif  // CRM_CLIENTS_CLI_ARGS_H_
