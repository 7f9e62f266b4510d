// crmctl run in-process (client::RunCli) for tests: the environment is a
// map (nothing leaks in from the test process's own), standard input a
// string, and the exit code and both outputs are returned.
#ifndef CRM_TESTS_HARNESS_CLI_RUNNER_H_
#define CRM_TESTS_HARNESS_CLI_RUNNER_H_

#include <map>
#include <string>
#include <vector>

namespace crm::testing {

struct CliResult {
  int code = -1;
  std::string out, err;
  // "exit N", then both outputs: for assertion messages.
  std::string Describe() const;
};

// crmctl ARGS with exactly `env` as its environment and `input` as what it
// reads from standard input (--password-stdin).
CliResult RunCrmctl(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env,
                    const std::string& input = "");

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_CLI_RUNNER_H_
