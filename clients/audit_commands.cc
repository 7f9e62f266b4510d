#include "clients/audit_commands.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "audit/chain.h"
#include "audit/signing.h"
#include "audit/verifier.h"
#include "clients/error_details.h"
#include "clients/output_format.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kUsage[] =
    "audit list [--filter F] [--page-size N] [--all] | tail [--filter F] | "
    "export FILE [--filter F] [--after SEQ] | verify [--file FILE "
    "--public-key PEM[,PEM] [--expect OLDFILE]] | public-key | history NAME";

std::string Method(absl::string_view name) {
  return absl::StrCat("crm.v1.AuditService/", name);
}

std::string Actor(const crm::v1::AuditEvent& e) {
  if (!e.actor_user().empty()) {
    return e.actor_service().empty()
               ? e.actor_user()
               : absl::StrCat(e.actor_user(), " via ", e.actor_service());
  }
  return e.actor_service().empty() ? "-" : e.actor_service();
}

std::string Changes(const crm::v1::AuditEvent& e) {
  std::vector<std::string> parts;
  for (const auto& c : e.changes()) {
    if (!c.values_recorded()) {
      parts.push_back(c.field());
    } else {
      parts.push_back(absl::StrCat(c.field(), ": ",
                                   c.has_before() ? c.before() : "(none)",
                                   " -> ", c.has_after() ? c.after() : "(none)"));
    }
  }
  return absl::StrJoin(parts, "; ");
}

std::vector<std::string> Row(const crm::v1::AuditEvent& e) {
  std::string detail = e.reason();
  auto message = e.attributes().find("message");
  if (e.outcome() != crm::v1::ALLOWED && message != e.attributes().end()) {
    detail = absl::StrCat(detail, detail.empty() ? "" : " - ", message->second);
  }
  if (auto username = e.attributes().find("username");
      username != e.attributes().end()) {
    detail = absl::StrCat("username=", username->second,
                          detail.empty() ? "" : " ", detail);
  }
  std::string changes = Changes(e);
  if (!changes.empty()) {
    detail = absl::StrCat(detail, detail.empty() ? "" : " ", "[", changes, "]");
  }
  return {absl::StrCat(e.sequence()),
          google::protobuf::util::TimeUtil::ToString(e.time()),
          Actor(e),
          e.action(),
          e.resource().empty() ? "-" : e.resource(),
          crm::v1::AuditOutcome_Name(e.outcome()),
          e.client_address().empty()
              ? "-"
              : absl::StrCat(e.client_address(),
                             e.country().empty() ? "" : " ", e.country()),
          detail};
}

const std::vector<std::string>& Header() {
  static const auto* header = new std::vector<std::string>{
      "SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "OUTCOME", "CLIENT",
      "DETAIL"};
  return *header;
}

std::string JsonLine(const google::protobuf::Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &json, options);
  return json;
}

absl::Status List(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"filter", true}, {"page-size", true},
                               {"all", false}},
                        "audit list", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ListAuditEventsRequest request;
  request.set_filter(a->Get("filter"));
  if (a->Has("page-size")) {
    int n = 0;
    if (!absl::SimpleAtoi(a->Get("page-size"), &n)) {
      return absl::InvalidArgumentError("--page-size: expected a number");
    }
    request.set_page_size(n);
  }
  crm::v1::ListAuditEventsResponse reply;
  if (a->Has("all")) {
    if (auto st = ListAll(s, Method("ListAuditEvents"), request, &reply);
        !st.ok()) {
      return st;
    }
  } else if (auto st = s.Call(Method("ListAuditEvents"), request, &reply);
             !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.events().empty()) {
    s.out() << "(no events)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : reply.events()) rows.push_back(Row(e));
  s.out() << FormatTable(Header(), rows);
  if (!reply.next_page_token().empty()) {
    s.out() << "(more: --all for every page)\n";
  }
  return absl::OkStatus();
}

// Streams ExportAuditEvents; `each` gets every line.
absl::Status Stream(CliSession& s, const crm::v1::ExportAuditEventsRequest& request,
                    const std::function<void(const crm::v1::AuditExportLine&)>& each) {
  auto client = s.Client();
  if (!client.ok()) return client.status();
  auto context = (*client)->NewContext();
  if (request.follow()) {
    // A tail runs until interrupted, not until the default deadline.
    context->set_deadline(std::chrono::system_clock::time_point::max());
  }
  auto reader = (*client)->audit().ExportAuditEvents(context.get(), request);
  crm::v1::AuditExportLine line;
  while (reader->Read(&line)) each(line);
  grpc::Status status = reader->Finish();
  if (status.ok()) return absl::OkStatus();
  return RpcError(ToAbslStatus(status));
}

absl::Status Tail(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"filter", true}}, "audit tail", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  // Start at the newest event: a tail shows what happens from now on.
  crm::v1::ListAuditEventsRequest newest;
  newest.set_page_size(1);
  crm::v1::ListAuditEventsResponse reply;
  if (auto st = s.Call(Method("ListAuditEvents"), newest, &reply); !st.ok()) {
    return st;
  }
  crm::v1::ExportAuditEventsRequest request;
  request.set_filter(a->Get("filter"));
  request.set_follow(true);
  request.set_after_sequence(reply.events().empty()
                                 ? 0
                                 : reply.events(0).sequence());
  const bool json = s.globals().output == OutputFormat::kJson;
  return Stream(s, request, [&](const crm::v1::AuditExportLine& line) {
    if (!line.has_event()) return;
    if (json) {
      s.out() << JsonLine(line.event()) << "\n";
    } else {
      s.out() << absl::StrJoin(Row(line.event()), "  ") << "\n";
    }
    s.out().flush();
  });
}

absl::Status Export(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"filter", true}, {"after", true}},
                        "audit export", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ExportAuditEventsRequest request;
  request.set_filter(a->Get("filter"));
  if (a->Has("after")) {
    int64_t after = 0;
    if (!absl::SimpleAtoi(a->Get("after"), &after) || after < 0) {
      return absl::InvalidArgumentError("--after: expected a sequence number");
    }
    request.set_after_sequence(after);
  }
  const std::string& path = a->positional[0];
  int64_t events = 0, checkpoints = 0;
  absl::Status st = WriteOutput(s, path, [&](std::ostream& out) {
    return Stream(s, request, [&](const crm::v1::AuditExportLine& line) {
      out << JsonLine(line) << "\n";
      if (line.has_event()) ++events;
      if (line.has_checkpoint()) ++checkpoints;
    });
  });
  if (st.ok() && path != "-") {
    s.err() << "exported " << events << " events and " << checkpoints
            << " checkpoints to " << path << "\n";
  }
  return st;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each line of an export, parsed; INVALID_ARGUMENT naming the line.
absl::Status ForEachLine(
    const std::string& path,
    const std::function<void(const crm::v1::AuditExportLine&)>& each) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::string text;
  int number = 0;
  while (std::getline(in, text)) {
    ++number;
    if (text.empty()) continue;
    crm::v1::AuditExportLine line;
    if (!google::protobuf::util::JsonStringToMessage(text, &line).ok() ||
        line.line_case() == crm::v1::AuditExportLine::LINE_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": not an audit export line (AuditExportLine "
          "in proto3 JSON)"));
    }
    each(line);
  }
  return absl::OkStatus();
}

absl::Status PrintVerification(CliSession& s,
                               const crm::v1::AuditVerification& result) {
  if (s.globals().output == OutputFormat::kJson) {
    if (auto st = s.PrintJson(result); !st.ok()) return st;
  } else if (result.ok()) {
    s.out() << "OK: " << result.events_verified() << " events, "
            << result.checkpoints_verified()
            << " checkpoints verified; newest checkpoint at event "
            << result.last_checkpoint_sequence() << "\n";
  } else {
    s.out() << "FAILED: " << result.problem() << "\n";
  }
  if (result.ok()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("the audit trail does not verify: ", result.problem()));
}

absl::Status Verify(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"file", true}, {"public-key", true},
                               {"expect", true}},
                        "audit verify", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  if (!a->Has("file")) {
    if (a->Has("public-key") || a->Has("expect")) {
      return absl::InvalidArgumentError(
          "audit verify: --public-key and --expect need --file (offline "
          "verification of an export)");
    }
    crm::v1::AuditVerification reply;
    if (auto st = s.Call(Method("VerifyAuditLog"),
                         crm::v1::VerifyAuditLogRequest(), &reply);
        !st.ok()) {
      return st;
    }
    return PrintVerification(s, reply);
  }
  if (!a->Has("public-key")) {
    return absl::InvalidArgumentError(
        "audit verify --file needs --public-key PEM (the key you pinned; "
        "`crmctl audit public-key` prints it)");
  }
  std::vector<audit::PublicKey> keys;
  for (absl::string_view path : absl::StrSplit(a->Get("public-key"), ',')) {
    auto pem = ReadFile(std::string(path));
    if (!pem.ok()) return pem.status();
    auto key = audit::PublicKey::FromPem(*pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--public-key ", path, ": ", key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  audit::ChainVerifier verifier(keys);
  if (a->Has("expect")) {
    std::optional<crm::v1::AuditCheckpoint> last;
    auto st = ForEachLine(a->Get("expect"), [&](const auto& line) {
      if (line.has_checkpoint()) last = line.checkpoint();
    });
    if (!st.ok()) return st;
    if (!last.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--expect ", a->Get("expect"), ": holds no checkpoint"));
    }
    verifier.Expect(*last);
  }
  bool first = true;
  auto st = ForEachLine(a->Get("file"), [&](const crm::v1::AuditExportLine& line) {
    if (line.has_anchor() && first) verifier.StartFrom(line.anchor());
    if (line.has_event()) verifier.AddEvent(line.event());
    if (line.has_checkpoint()) verifier.AddCheckpoint(line.checkpoint());
    first = false;
  });
  if (!st.ok()) return st;
  return PrintVerification(s, verifier.Finish());
}

absl::Status PublicKey(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "audit public-key", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::AuditPublicKey reply;
  if (auto st = s.Call(Method("GetAuditPublicKey"),
                       crm::v1::GetAuditPublicKeyRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  s.out() << reply.public_key_pem();
  s.err() << "key id " << reply.key_id() << "\n";
  return absl::OkStatus();
}

absl::Status History(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "audit history", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  std::string quoted = "\"";
  for (char c : a->positional[0]) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  crm::v1::ListAuditEventsRequest request;
  request.set_filter(absl::StrCat("resource = ", quoted,
                                  " AND outcome = ALLOWED"));
  request.set_page_size(1000);
  crm::v1::ListAuditEventsResponse reply;
  if (auto st = ListAll(s, Method("ListAuditEvents"), request, &reply);
      !st.ok()) {
    return st;
  }
  std::reverse(reply.mutable_events()->begin(), reply.mutable_events()->end());
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.events().empty()) {
    s.out() << "(no recorded changes of " << a->positional[0] << ")\n";
    return absl::OkStatus();
  }
  for (const auto& e : reply.events()) {
    s.out() << google::protobuf::util::TimeUtil::ToString(e.time()) << "  "
            << e.action() << "  by " << Actor(e) << "  (event "
            << e.sequence() << ", request " << e.request_id() << ")\n";
    for (const auto& c : e.changes()) {
      s.out() << "    " << c.field() << ": "
              << (c.values_recorded()
                      ? absl::StrCat(c.has_before() ? c.before() : "(none)",
                                     " -> ", c.has_after() ? c.after() : "(none)")
                      : std::string("(changed; values not recorded)"))
              << "\n";
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAudit(CliSession& s, const Args& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", kUsage));
  }
  const std::string& verb = args[0];
  const Args rest(args.begin() + 1, args.end());
  if (verb == "list") return List(s, rest);
  if (verb == "tail") return Tail(s, rest);
  if (verb == "export") return Export(s, rest);
  if (verb == "verify") return Verify(s, rest);
  if (verb == "public-key") return PublicKey(s, rest);
  if (verb == "history") return History(s, rest);
  return absl::InvalidArgumentError(absl::StrCat(
      "audit: unknown verb '", verb, "'; usage: crmctl ", kUsage));
}

}  // namespace crm::client
