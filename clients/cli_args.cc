#include "clients/cli_args.h"

#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crm::client {
namespace {

// Global flags: name -> what it sets. Every global flag takes a value except
// --help.
struct GlobalFlag {
  const char* name;
  const char* help;
  absl::Status (*apply)(const std::string& value, GlobalOptions* options);
};

absl::Status SetOutput(const std::string& v, GlobalOptions* o) {
  if (v == "table") {
    o->output = OutputFormat::kTable;
  } else if (v == "json") {
    o->output = OutputFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--output: '", v, "' is not one of: table, json"));
  }
  return absl::OkStatus();
}

absl::Status SetDeadline(const std::string& v, GlobalOptions* o) {
  double seconds;
  if (!absl::SimpleAtod(v, &seconds) || !std::isfinite(seconds) ||
      seconds <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--deadline: '", v, "' is not a positive number of seconds"));
  }
  o->channel.default_deadline = absl::Seconds(seconds);
  return absl::OkStatus();
}

const GlobalFlag kGlobalFlags[] = {
    {"target", "server host:port (env CRM_TARGET; default localhost:8443)",
     [](const std::string& v, GlobalOptions* o) {
       o->channel.target = v;
       return absl::OkStatus();
     }},
    {"ca", "CA certificate PEM (env CRM_CA; default certs/out/ca.pem)",
     [](const std::string& v, GlobalOptions* o) {
       o->channel.ca_file = v;
       return absl::OkStatus();
     }},
    {"cert",
     "client certificate PEM (env CRM_CERT; default certs/out/admin-cli.pem)",
     [](const std::string& v, GlobalOptions* o) {
       o->channel.cert_file = v;
       return absl::OkStatus();
     }},
    {"key",
     "client private key PEM (env CRM_KEY; default certs/out/admin-cli.key)",
     [](const std::string& v, GlobalOptions* o) {
       o->channel.key_file = v;
       return absl::OkStatus();
     }},
    {"server-name", "name to verify in the server certificate (tests)",
     [](const std::string& v, GlobalOptions* o) {
       o->channel.server_name_override = v;
       return absl::OkStatus();
     }},
    {"token", "user session token, sent as a bearer token (env CRM_TOKEN)",
     [](const std::string& v, GlobalOptions* o) {
       o->token = v;
       return absl::OkStatus();
     }},
    {"forwarded-for",
     "end user's address, sent as x-forwarded-for (trusted gateways only)",
     [](const std::string& v, GlobalOptions* o) {
       o->forwarded_for = v;
       return absl::OkStatus();
     }},
    {"output", "table (default) or json", SetOutput},
    {"deadline", "seconds to wait for each call (default 10)", SetDeadline},
};

const GlobalFlag* FindGlobalFlag(absl::string_view name) {
  for (const GlobalFlag& f : kGlobalFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string GlobalFlagNames() {
  std::vector<std::string> names;
  for (const GlobalFlag& f : kGlobalFlags)
    names.push_back(absl::StrCat("--", f.name));
  names.push_back("--help");
  return absl::StrJoin(names, ", ");
}

GlobalOptions Defaults(const EnvLookup& env) {
  auto get = [&env](const char* var, const char* fallback) {
    std::optional<std::string> v = env(var);
    return v.has_value() && !v->empty() ? *v : std::string(fallback);
  };
  GlobalOptions o;
  o.channel.target = get("CRM_TARGET", "localhost:8443");
  o.channel.ca_file = get("CRM_CA", "certs/out/ca.pem");
  o.channel.cert_file = get("CRM_CERT", "certs/out/admin-cli.pem");
  o.channel.key_file = get("CRM_KEY", "certs/out/admin-cli.key");
  o.token = get("CRM_TOKEN", "");
  return o;
}

// Splits "--name=value" / "--name"; false if `arg` is not a long flag.
bool SplitFlag(const std::string& arg, std::string* name,
               std::optional<std::string>* value) {
  if (!absl::StartsWith(arg, "--") || arg.size() == 2) return false;
  size_t eq = arg.find('=');
  if (eq == std::string::npos) {
    *name = arg.substr(2);
    value->reset();
  } else {
    *name = arg.substr(2, eq - 2);
    *value = arg.substr(eq + 1);
  }
  return true;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<CommandLine> ParseGlobalFlags(
    const std::vector<std::string>& args, const EnvLookup& env) {
  CommandLine line;
  line.globals = Defaults(env);
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg == "-h" || arg == "--help") {
      line.globals.help = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    if (!SplitFlag(arg, &name, &value)) {
      if (absl::StartsWith(arg, "-") && arg.size() > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unknown flag '", arg, "'; global flags: ", GlobalFlagNames()));
      }
      break;  // The command.
    }
    const GlobalFlag* flag = FindGlobalFlag(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown global flag '--", name,
                       "' (global flags go before the "
                       "command): ",
                       GlobalFlagNames()));
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (auto s = flag->apply(*value, &line.globals); !s.ok()) return s;
  }
  line.command.assign(args.begin() + i, args.end());
  return line;
}

absl::StatusOr<CommandArgs> ParseCommandArgs(
    const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
    absl::string_view command) {
  auto flag_names = [&specs] {
    if (specs.empty()) return std::string("(none)");
    std::vector<std::string> names;
    for (const FlagSpec& s : specs) names.push_back("--" + s.name);
    return absl::StrJoin(names, ", ");
  };
  CommandArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.positional.insert(out.positional.end(), args.begin() + i + 1,
                            args.end());
      break;
    }
    std::string name;
    std::optional<std::string> value;
    if (!SplitFlag(arg, &name, &value)) {
      out.positional.push_back(arg);
      continue;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          command, ": unknown flag '--", name, "'; its flags: ", flag_names()));
    }
    if (out.flags.count(name) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(command, ": flag --", name, " given twice"));
    }
    if (!spec->takes_value) {
      if (value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(command, ": flag --", name, " takes no value"));
      }
      out.flags[name] = "true";
      continue;
    }
    if (!value.has_value()) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(command, ": flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    out.flags[name] = *value;
  }
  return out;
}

absl::StatusOr<CommandArgs> ParseCommand(const std::vector<std::string>& args,
                                         const std::vector<FlagSpec>& specs,
                                         absl::string_view command, size_t min,
                                         size_t max, absl::string_view usage) {
  auto parsed = ParseCommandArgs(args, specs, command);
  if (!parsed.ok()) return parsed.status();
  if (parsed->positional.size() < min || parsed->positional.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": wrong arguments; usage: crmctl ", usage));
  }
  return parsed;
}

std::string GlobalFlagsHelp() {
  std::string out;
  for (const GlobalFlag& f : kGlobalFlags) {
    std::string left = absl::StrCat("  --", f.name, " VALUE");
    left.resize(std::max<size_t>(left.size() + 2, 26), ' ');
    absl::StrAppend(&out, left, f.help, "\n");
  }
  absl::StrAppend(&out, "  -h, --help              this help\n");
  return out;
}

}  // namespace crm::client
