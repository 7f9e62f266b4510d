#include "tests/harness/cli_runner.h"

#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "clients/cli.h"

namespace crm::testing {

std::string CliResult::Describe() const {
  return absl::StrCat("exit ", code, "\n--- stdout:\n", out, "--- stderr:\n",
                      err);
}

CliResult RunCrmctl(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env,
                    const std::string& input) {
  client::CliDeps deps;
  std::istringstream in(input);
  deps.in = &in;
  deps.env = [env = std::move(env)](
                 const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  std::ostringstream out, err;
  CliResult r;
  r.code = client::RunCli(args, out, err, deps);
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace crm::testing
