#include "clients/cli.h"

#include <memory>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"
#include "clients/access_commands.h"
#include "clients/audit_commands.h"
#include "clients/auth_commands.h"
#include "clients/cli_session.h"
#include "clients/descriptor_catalog.h"
#include "clients/error_details.h"
#include "clients/key_commands.h"
#include "clients/policy_commands.h"
#include "clients/privacy_commands.h"
#include "clients/provenance_commands.h"
#include "clients/consent_commands.h"
#include "clients/resource_commands.h"
#include "clients/resource_requests.h"
#include "clients/user_commands.h"
#include "crm/v1/diagnostics.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kRpcErrorPayload[] = "type.crm.client/rpc-error";

// A top-level command other than a collection. Adding a command (e.g. for
// a new service) is one entry in kCommands; `call` already reaches any
// method without one.
struct Command {
  const char* name;
  const char* usage;
  const char* summary;
  absl::Status (*run)(CliSession& session, const Args& args);
};

absl::Status RunEcho(CliSession& s, const Args& args) {
  crm::v1::EchoRequest request;
  request.set_payload(absl::StrJoin(args, " "));
  crm::v1::EchoResponse reply;
  if (auto st = s.Call("crm.v1.DiagnosticsService/Echo", request, &reply);
      !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

// grpc.health.v1.Health/Check, described at run time: the CRM's own
// descriptor pool does not hold grpc's health proto, and the two messages
// are tiny and frozen (grpc/health/v1/health.proto).
const google::protobuf::MethodDescriptor* HealthCheckMethod() {
  static const google::protobuf::MethodDescriptor* method = [] {
    google::protobuf::FileDescriptorProto file;
    const bool parsed = google::protobuf::TextFormat::ParseFromString(
        R"pb(
          name: "crmctl/grpc_health_v1.proto"
          package: "grpc.health.v1"
          syntax: "proto3"
          message_type {
            name: "HealthCheckRequest"
            field { name: "service" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
          }
          message_type {
            name: "HealthCheckResponse"
            field {
              name: "status" number: 1 label: LABEL_OPTIONAL type: TYPE_ENUM
              type_name: ".grpc.health.v1.HealthCheckResponse.ServingStatus"
            }
            enum_type {
              name: "ServingStatus"
              value { name: "UNKNOWN" number: 0 }
              value { name: "SERVING" number: 1 }
              value { name: "NOT_SERVING" number: 2 }
              value { name: "SERVICE_UNKNOWN" number: 3 }
            }
          }
          service {
            name: "Health"
            method {
              name: "Check"
              input_type: ".grpc.health.v1.HealthCheckRequest"
              output_type: ".grpc.health.v1.HealthCheckResponse"
            }
          }
        )pb",
        &file);
    static auto* pool = new google::protobuf::DescriptorPool();
    const google::protobuf::FileDescriptor* fd =
        parsed ? pool->BuildFile(file) : nullptr;
    return fd == nullptr ? nullptr : fd->service(0)->method(0);
  }();
  return method;
}

// Prints SERVING / NOT_SERVING of the whole server ("") or of one service
// (e.g. crm.v1.AccountService); exit status 0 only when SERVING, for
// scripts and probes.
absl::Status RunHealth(CliSession& s, const Args& args) {
  if (args.size() > 1) {
    return absl::InvalidArgumentError(
        "health: usage: crmctl health [SERVICE] (e.g. crm.v1.AccountService)");
  }
  const google::protobuf::MethodDescriptor* method = HealthCheckMethod();
  if (method == nullptr) {
    return absl::InternalError("health: cannot describe grpc.health.v1");
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(method->input_type())->New());
  std::unique_ptr<google::protobuf::Message> reply(
      factory.GetPrototype(method->output_type())->New());
  if (!args.empty()) {
    request->GetReflection()->SetString(
        request.get(), method->input_type()->FindFieldByName("service"),
        args[0]);
  }
  if (auto st = s.Call(method, *request, reply.get()); !st.ok()) return st;
  const auto* status_field = method->output_type()->FindFieldByName("status");
  const std::string status =
      reply->GetReflection()->GetEnum(*reply, status_field)->name();
  s.out() << status << "\n";
  if (status != "SERVING") {
    return absl::UnavailableError(absl::StrCat(
        "health: ", args.empty() ? "the server" : args[0], " is ", status));
  }
  return absl::OkStatus();
}

absl::Status RunCall(CliSession& s, const Args& args) {
  if (args.empty() || args.size() > 2) {
    return absl::InvalidArgumentError(
        "call: usage: crmctl call SERVICE/METHOD ['{json request}']");
  }
  auto method = FindMethod(args[0]);
  if (!method.ok()) return method.status();
  auto request = NewMessage((*method)->input_type());
  if (args.size() == 2) {
    if (auto st = ParseJsonInto("call: the request", args[1], request.get());
        !st.ok()) {
      return st;
    }
  }
  auto reply = NewMessage((*method)->output_type());
  if (auto st = s.Call(*method, *request, reply.get()); !st.ok()) return st;
  return s.PrintJson(*reply);
}

absl::Status RunHelp(CliSession& s, const Args& args) {
  if (!args.empty()) {
    auto r = FindResource(args[0]);
    if (r.ok()) {
      s.out() << ResourceHelp(*r);
      return absl::OkStatus();
    }
  }
  s.out() << UsageText();
  return absl::OkStatus();
}

const Command kCommands[] = {
    {"echo", "echo [TEXT]",
     "check connectivity and identity (DiagnosticsService)", RunEcho},
    {"health", "health [SERVICE]",
     "gRPC health: SERVING or NOT_SERVING (the database is down, or the "
     "server is draining); exit status 0 only when SERVING",
     RunHealth},
    {"call", "call SERVICE/METHOD ['{json}']",
     "call any unary method with a JSON request; prints the JSON reply "
     "(e.g. call crm.v1.AccountService/GetAccount '{\"name\":\"accounts/1\"}')",
     RunCall},
    {"login", "login USERNAME [--password-stdin]",
     "log a person in through this service; prints export CRM_TOKEN=... "
     "(eval \"$(crmctl login bob)\")",
     RunLogin},
    {"logout", "logout", "end the session of --token / CRM_TOKEN", RunLogout},
    {"whoami", "whoami",
     "who is acting: service, user, profile, client address, permissions",
     RunWhoAmI},
    {"users",
     "users list | get USER | create ID FIELD=VALUE... [--password-stdin] | "
     "update USER FIELD=VALUE... [--etag E] | set-password USER "
     "[--password-stdin] [--keep-sessions] | unlock USER | revoke-sessions "
     "USER",
     "admin (needs manage_users): users, their profile, role and password; "
     "unlock a user or end all their sessions",
     RunUsers},
    {"profiles",
     "profiles list | get PROFILE | create ID JSON|@FILE | update PROFILE "
     "JSON|@FILE [--fields F,...] [--etag E] | delete PROFILE [--etag E]",
     "admin (needs manage_policy): the profiles and their login "
     "restrictions; @FILE may be a .textproto of `policy export`",
     RunProfiles},
    {"policy",
     "policy list KIND | get NAME | create KIND ID JSON|@FILE | "
     "update NAME JSON|@FILE [--etag E] [--fields F,...] | delete NAME "
     "[--etag E] | export DIR | validate DIR [--server-config FILE] | plan DIR [--prune] "
     "[--user users/ID] | apply DIR [--prune] [--expect-version V] "
     "[--message TEXT] | history | diff V1 V2 | rollback V [--dry-run]",
     "admin: the access policy (needs manage_policy); KIND: permissionSets, "
     "orgWideDefaults, roles, groups, sharingRules, restrictionRules, "
     "dataSources (and the read-only services); JSON is "
     "the object itself, update replaces it whole (or only --fields F,...); "
     "export writes the whole policy as text files, one per object; validate "
     "compiles such a folder offline and lists every error; plan shows what "
     "applying a folder changes and who gains or loses access; apply makes "
     "it live in one transaction; history, diff and rollback work on the "
     "applied versions",
     RunPolicy},
    {"share", "share RECORD GRANTEE [read|read_write]",
     "share a record (e.g. accounts/acme) with users/ID, roles/ID, "
     "roleAndSubordinates/ID or groups/ID; default read",
     RunShare},
    {"unshare", "unshare SHARE",
     "remove a manual share (a name that `shares` prints)", RunUnshare},
    {"shares", "shares RECORD", "list a record's manual shares", RunShares},
    {"transfer", "transfer RECORD NEW_OWNER [--etag E]",
     "make a user (users/ID or ID) the owner of a record", RunTransfer},
    {"provenance", "provenance RECORD",
     "where each readable field of a record came from: data source, "
     "service, actor, time, request",
     RunProvenance},
    {"history", "history RECORD [--field F]",
     "the changes of a record's readable fields, oldest first (values of "
     "sensitive fields are never kept)",
     RunHistory},
    {"consent",
     "consent set RECORD --channel C --purpose P --state "
     "opted-in|opted-out|unknown [--etag E] | get RECORD | history RECORD",
     "a contact's or lead's consent per channel (email, phone, sms, post) "
     "and purpose; set needs edit access to the record or a data source "
     "that may record consent",
     RunConsent},
    {"audit",
     "audit list [--filter F] [--all] | tail | export FILE | verify "
     "[--file FILE --public-key PEM [--expect OLD]] | public-key | "
     "history NAME",
     "auditors (needs view_audit): the audit trail, its export and "
     "verification",
     RunAudit},
    {"access",
     "access explain USER RECORD|OBJECT ACTION [--field F] [--from ADDR] | "
     "accessors RECORD | summary USER [OBJECT...] | permissions USER  "
     "(each with [--service S] [--json])",
     "audit (needs view_audit): why a user may do something, who can see a "
     "record, what a user can see and do",
     RunAccess},
    {"keys", "keys status [--json] | rotate [--batch N] [--resume]",
     "admin (needs manage_policy): the data keys that encrypt sensitive "
     "fields at rest; rotate makes a new current key and re-encrypts every "
     "value under it online (--resume finishes an interrupted rotation)",
     RunKeys},
    {"privacy",
     "privacy export PERSON [--out FILE] | erase PERSON [--dry-run] "
     "[--receipt-out FILE] | receipt get NAME [--out FILE] | receipt verify "
     "FILE [--public-key PEM] | rules | retention dry-run|run|runs | "
     "inventory [--format markdown|json|csv] [--objects A,B] [--out FILE]",
     "privacy officers (needs privacy_operations): everything held about a "
     "person (PERSON: e-mail, phone, contacts/ID or leads/ID) as JSON; "
     "erasure by the per-object rules with a signed receipt (--dry-run "
     "writes nothing); receipt verify checks a receipt offline; retention: "
     "what the configured rules would do now, a run now, the latest runs; "
     "inventory: what we hold and why, per object and field (purposes, "
     "sources, retention, erasure, findings) for the privacy notice",
     RunPrivacy},
    {"help", "help [COLLECTION]",
     "this help, or a collection's verbs and fields", RunHelp},
};

absl::Status Dispatch(CliSession& session, const Args& command) {
  if (command.empty()) {
    return absl::InvalidArgumentError("missing command; run 'crmctl --help'");
  }
  for (const Command& c : kCommands) {
    if (command[0] == c.name) {
      return c.run(session, Args(command.begin() + 1, command.end()));
    }
  }
  auto resource = FindResource(command[0]);
  if (!resource.ok()) {
    std::vector<std::string> names;
    for (const Command& c : kCommands) names.push_back(c.name);
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command '", command[0],
                     "'; commands: ", absl::StrJoin(Collections(), ", "), ", ",
                     absl::StrJoin(names, ", "), " (run 'crmctl --help')"));
  }
  return RunResourceCommand(session, *resource,
                            Args(command.begin() + 1, command.end()));
}

}  // namespace

absl::Status RpcError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kRpcErrorPayload, absl::Cord("1"));
  return status;
}

int ExitCode(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  if (status.GetPayload(kRpcErrorPayload).has_value()) {
    return kExitRpcBase + static_cast<int>(status.code());
  }
  return kExitUsage;
}

std::string UsageText() {
  std::string out =
      "usage: crmctl [global flags] <command> [arguments]\n\n"
      "Records (NAME is COLLECTION/ID or just ID):\n"
      "  crmctl COLLECTION get NAME\n"
      "  crmctl COLLECTION list [--filter EXPR] [--order-by EXPR] "
      "[--page-size N] [--page-token T] [--all]\n"
      "  crmctl COLLECTION create FIELD=VALUE... | --json '{...}'\n"
      "  crmctl COLLECTION update NAME FIELD=VALUE... [--json '{...}'] "
      "[--etag E]   (FIELD= clears)\n"
      "  crmctl COLLECTION delete NAME [--etag E]\n";
  absl::StrAppend(
      &out, "Collections: ", absl::StrJoin(Collections(), ", "),
      " (crmctl help COLLECTION lists its fields)\n\nOther commands:\n");
  for (const Command& c : kCommands) {
    absl::StrAppend(&out, "  crmctl ", c.usage, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(
      &out, "\nGlobal flags (before the command):\n", GlobalFlagsHelp(),
      "\nValues: strings as is; integers; decimals; true/false; enum names in "
      "any case;\n  timestamps in RFC 3339 (2024-05-01T09:30:00Z).\n"
      "\nExit codes: 0 success; 1 usage or local error (flags, fields, values, "
      "certificate\n  files); 2 + gRPC status code when the server returns an "
      "error (7 NOT_FOUND,\n  9 PERMISSION_DENIED, 12 ABORTED, 16 UNAVAILABLE, "
      "18 UNAUTHENTICATED).\n"
      "Errors are printed to stderr as: error: <CODE_NAME>: <message>, then\n"
      "  the server's details, one per line (reason: REASON (key=value, ...);\n"
      "  field FIELD: problem; precondition TYPE SUBJECT: ...; retry after: D);\n"
      "  with --output json, one JSON object instead of those lines.\n");
  return out;
}

int RunCli(const std::vector<std::string>& args, std::ostream& out,
           std::ostream& err, const CliDeps& deps) {
  absl::Status status;
  auto line = ParseGlobalFlags(args, deps.env);
  if (!line.ok()) {
    status = line.status();
  } else if (line->globals.help ||
             (!line->command.empty() && line->command[0] == "--help")) {
    out << UsageText();
    return kExitOk;
  } else {
    CliSession session(line->globals, deps, out, err);
    status = Dispatch(session, line->command);
  }
  if (status.ok()) return kExitOk;
  err << "error: " << absl::StatusCodeToString(status.code()) << ": "
      << status.message() << "\n";
  // The server's details (proto/crm/v1/errors.proto): one line each, or with
  // --output json one JSON object on the next line.
  if (line.ok() && line->globals.output == OutputFormat::kJson) {
    err << ErrorJson(status) << "\n";
  } else {
    err << FormatErrorDetails(
        DecodeErrorDetails(base::ToRpcStatus(status)));
  }
  return ExitCode(status);
}

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return RunCli(args, out, err);
}

}  // namespace crm::client
