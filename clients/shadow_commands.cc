// crmctl policy shadow ... (clients/policy_bundle_commands.h documents the
// commands; crm/v1/admin_service.proto SetShadowPolicy the contract).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/cli_args.h"
#include "clients/output_format.h"
#include "clients/policy_bundle_commands.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/audit_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kShadowUsage[] =
    "policy shadow set DIR [--prune] [--message TEXT] | policy shadow status "
    "[--json] | policy shadow clear [--expect-revision R] | policy shadow "
    "report [--limit N]";

std::string Method(const char* name) {
  return absl::StrCat("crm.v1.PolicyAdminService/", name);
}

std::string Attribute(const crm::v1::AuditEvent& e, const char* key) {
  auto it = e.attributes().find(key);
  return it == e.attributes().end() ? "" : it->second;
}

void PrintStatus(CliSession& s, const crm::v1::ShadowPolicyStatus& st) {
  std::ostream& out = s.out();
  if (!st.active()) {
    out << "no shadow policy";
    if (st.revision() > 0) {
      out << " (revision " << st.revision() << ", cleared "
          << google::protobuf::util::TimeUtil::ToString(st.set_time())
          << " by "
          << (st.set_by_user().empty() ? st.set_by_service()
                                       : absl::StrCat(st.set_by_user(), " via ",
                                                      st.set_by_service()))
          << ")";
    }
    out << "\n";
    return;
  }
  out << "shadow policy revision " << st.revision() << ", set "
      << google::protobuf::util::TimeUtil::ToString(st.set_time()) << " by "
      << (st.set_by_user().empty()
              ? st.set_by_service()
              : absl::StrCat(st.set_by_user(), " via ", st.set_by_service()))
      << (st.prune() ? " (prune)" : "") << "\n";
  if (!st.message().empty()) out << "message: " << st.message() << "\n";
  if (!st.compile_error().empty()) {
    out << "NOT EVALUATED: it does not compile against live version "
        << st.live_version() << ": " << st.compile_error()
        << "\n  (set it again, or clear it)\n";
  }
  if (st.changes().empty()) {
    out << "it is the live policy (no object differs)\n";
  } else {
    out << "differs from the live policy in " << st.changes_size()
        << " object(s):\n";
    PrintPolicyChanges(out, st.changes());
  }
  out << "on this server since "
      << google::protobuf::util::TimeUtil::ToString(st.counting_since())
      << " (live version " << st.live_version() << "): "
      << st.decisions_compared() << " decisions compared, "
      << st.disagreements() << " disagreements in "
      << st.calls_with_disagreements() << " calls";
  if (st.calls_not_compared() > 0) {
    out << ", " << st.calls_not_compared() << " calls not compared";
  }
  out << "\n";
  if (st.disagreements() > 0) {
    out << "see them with: crmctl policy shadow report\n";
  }
}

absl::Status Set(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "policy shadow set DIR [--prune] [--message TEXT]";
  auto a = ParseCommand(args, {{"prune", false}, {"message", true}},
                        "policy shadow set", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::SetShadowPolicyRequest request;
  if (auto st = ReadBundleInto(a->positional[0], "policy shadow set",
                               request.mutable_bundle());
      !st.ok()) {
    return st;
  }
  request.set_prune(a->Has("prune"));
  request.set_message(a->Get("message"));
  crm::v1::ShadowPolicyStatus reply;
  if (auto st = s.Call(Method("SetShadowPolicy"), request, &reply); !st.ok()) {
    return st;
  }
  PrintStatus(s, reply);
  return absl::OkStatus();
}

absl::Status Status(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"json", false}}, "policy shadow status", 0, 0,
                        "policy shadow status [--json]");
  if (!a.ok()) return a.status();
  crm::v1::ShadowPolicyStatus reply;
  if (auto st = s.Call(Method("GetShadowPolicy"),
                       crm::v1::GetShadowPolicyRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (a->Has("json")) return s.PrintJson(reply);
  PrintStatus(s, reply);
  return absl::OkStatus();
}

absl::Status Clear(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"expect-revision", true}},
                        "policy shadow clear", 0, 0,
                        "policy shadow clear [--expect-revision R]");
  if (!a.ok()) return a.status();
  crm::v1::ClearShadowPolicyRequest request;
  if (a->Has("expect-revision")) {
    int64_t r = 0;
    if (!absl::SimpleAtoi(a->Get("expect-revision"), &r) || r <= 0) {
      return absl::InvalidArgumentError(
          "policy shadow clear: --expect-revision takes a revision number "
          "(crmctl policy shadow status shows it)");
    }
    request.set_expect_revision(r);
  }
  crm::v1::ShadowPolicyStatus reply;
  if (auto st = s.Call(Method("ClearShadowPolicy"), request, &reply);
      !st.ok()) {
    return st;
  }
  PrintStatus(s, reply);
  return absl::OkStatus();
}

// The recorded disagreements, newest first (AuditService: needs
// view_audit).
absl::Status Report(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"limit", true}}, "policy shadow report", 0, 0,
                        "policy shadow report [--limit N]");
  if (!a.ok()) return a.status();
  int limit = 50;
  if (a->Has("limit") &&
      (!absl::SimpleAtoi(a->Get("limit"), &limit) || limit <= 0)) {
    return absl::InvalidArgumentError(
        "policy shadow report: --limit takes a number of disagreements");
  }
  crm::v1::ListAuditEventsRequest request;
  request.set_filter("action = \"policy.shadow_disagreement\"");
  request.set_page_size(std::min(limit, 1000));
  std::vector<crm::v1::AuditEvent> events;
  for (;;) {
    crm::v1::ListAuditEventsResponse page;
    if (auto st = s.Call("crm.v1.AuditService/ListAuditEvents", request,
                         &page);
        !st.ok()) {
      return st;
    }
    for (const auto& e : page.events()) {
      if (static_cast<int>(events.size()) < limit) events.push_back(e);
    }
    if (page.next_page_token().empty() ||
        static_cast<int>(events.size()) >= limit) {
      break;
    }
    request.set_page_token(page.next_page_token());
  }
  if (s.globals().output == OutputFormat::kJson) {
    crm::v1::ListAuditEventsResponse all;
    for (auto& e : events) *all.add_events() = std::move(e);
    return s.PrintJson(all);
  }
  if (events.empty()) {
    s.out() << "(no disagreements recorded)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : events) {
    rows.push_back(
        {google::protobuf::util::TimeUtil::ToString(e.time()),
         e.actor_user().empty()
             ? e.actor_service()
             : absl::StrCat(e.actor_user(), " via ", e.actor_service()),
         Attribute(e, "question"), e.resource().empty() ? "-" : e.resource(),
         Attribute(e, "live"), Attribute(e, "shadow"),
         Attribute(e, "shadow_revision"), e.request_id()});
  }
  s.out() << FormatTable({"TIME", "ACTOR", "QUESTION", "RESOURCE", "LIVE",
                          "SHADOW", "REVISION", "REQUEST"},
                         rows);
  return absl::OkStatus();
}

}  // namespace

absl::Status PolicyShadow(CliSession& s, const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("usage: crmctl ", kShadowUsage));
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "set") return Set(s, rest);
  if (args[0] == "status") return Status(s, rest);
  if (args[0] == "clear") return Clear(s, rest);
  if (args[0] == "report") return Report(s, rest);
  return absl::InvalidArgumentError(
      absl::StrCat("policy shadow: unknown verb '", args[0],
                   "'; usage: crmctl ", kShadowUsage));
}

}  // namespace crm::client
