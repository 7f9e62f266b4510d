// The standard-method verbs of `crmctl <collection> ...`, for any resource.
#ifndef CRM_CLIENTS_RESOURCE_COMMANDS_H_
#define CRM_CLIENTS_RESOURCE_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"
#include "clients/descriptor_catalog.h"

namespace crm::client {

// Runs `<verb> args...` (args[0] is the verb) on resource `r`. With no verb
// or --help, prints ResourceHelp. INVALID_ARGUMENT for bad usage.
absl::Status RunResourceCommand(CliSession& session, const ResourceMethods& r,
                                const std::vector<std::string>& args);

// Usage of the verbs and the resource's fields (type, enum values, and
// whether output-only or required).
std::string ResourceHelp(const ResourceMethods& r);

}  // namespace crm::client

#endif  // CRM_CLIENTS_RESOURCE_COMMANDS_H_
