#include "clients/consent_commands.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/cli_args.h"
#include "clients/output_format.h"
#include "crm/v1/consent_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kService[] = "crm.v1.ConsentService/";
constexpr char kUsage[] =
    "consent set RECORD --channel email|phone|sms|post --purpose P --state "
    "opted-in|opted-out|unknown [--etag E] | get RECORD | history RECORD";

// "contacts/ada" or "leads/l1".
absl::Status CheckRecordName(const std::string& arg,
                             absl::string_view command) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(arg, absl::MaxSplits('/', 1));
  if ((parts.first != "contacts" && parts.first != "leads") ||
      parts.second.empty() || parts.second.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        command, ": '", arg,
        "' is not a contact or lead; use contacts/ID or leads/ID"));
  }
  return absl::OkStatus();
}

absl::StatusOr<crm::v1::ConsentState> ParseState(const std::string& text) {
  if (text == "opted-in") return crm::v1::OPTED_IN;
  if (text == "opted-out") return crm::v1::OPTED_OUT;
  if (text == "unknown") return crm::v1::UNKNOWN;
  return absl::InvalidArgumentError(absl::StrCat(
      "consent set: --state '", text,
      "' is not a state; use opted-in, opted-out or unknown"));
}

std::string StateName(crm::v1::ConsentState state) {
  switch (state) {
    case crm::v1::OPTED_IN:
      return "opted-in";
    case crm::v1::OPTED_OUT:
      return "opted-out";
    default:
      return "unknown";
  }
}

std::vector<std::string> Columns(const crm::v1::Consent& c) {
  return {c.channel(),
          c.purpose(),
          StateName(c.state()),
          c.source(),
          c.actor(),
          google::protobuf::util::TimeUtil::ToString(c.update_time()),
          c.etag()};
}

absl::Status Set(CliSession& s, const Args& args) {
  auto a = ParseCommand(
      args,
      {{"channel", true}, {"purpose", true}, {"state", true}, {"etag", true}},
      "consent set", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  if (auto st = CheckRecordName(a->positional[0], "consent set"); !st.ok()) {
    return st;
  }
  auto state = ParseState(a->Get("state"));
  if (!state.ok()) return state.status();
  crm::v1::SetConsentRequest request;
  request.set_record(a->positional[0]);
  request.set_channel(a->Get("channel"));
  request.set_purpose(a->Get("purpose"));
  request.set_state(*state);
  request.set_etag(a->Get("etag"));
  crm::v1::Consent reply;
  if (auto st = s.Call(absl::StrCat(kService, "SetConsent"), request, &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  s.out() << FormatTable({"CHANNEL", "PURPOSE", "STATE", "SOURCE", "ACTOR",
                          "UPDATED", "ETAG"},
                         {Columns(reply)});
  return absl::OkStatus();
}

absl::Status Get(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "consent get", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  if (auto st = CheckRecordName(a->positional[0], "consent get"); !st.ok()) {
    return st;
  }
  crm::v1::GetConsentRequest request;
  request.set_record(a->positional[0]);
  crm::v1::RecordConsent reply;
  if (auto st = s.Call(absl::StrCat(kService, "GetConsent"), request, &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.consents().empty()) {
    s.out() << "(no consent recorded: unknown for every channel and "
               "purpose)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : reply.consents()) rows.push_back(Columns(c));
  s.out() << FormatTable({"CHANNEL", "PURPOSE", "STATE", "SOURCE", "ACTOR",
                          "UPDATED", "ETAG"},
                         rows);
  return absl::OkStatus();
}

absl::Status History(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "consent history", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  if (auto st = CheckRecordName(a->positional[0], "consent history");
      !st.ok()) {
    return st;
  }
  crm::v1::ListConsentHistoryRequest request;
  request.set_record(a->positional[0]);
  crm::v1::ListConsentHistoryResponse all;
  if (auto st = ListAll(s, absl::StrCat(kService, "ListConsentHistory"),
                        request, &all);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  if (all.changes().empty()) {
    s.out() << "(no consent history)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : all.changes()) {
    const crm::v1::Consent& e = c.consent();
    rows.push_back({absl::StrCat(c.sequence()), e.channel(), e.purpose(),
                    StateName(c.previous_state()), StateName(e.state()),
                    e.source(), e.service(), e.actor(),
                    google::protobuf::util::TimeUtil::ToString(e.update_time()),
                    e.request_id()});
  }
  s.out() << FormatTable({"SEQ", "CHANNEL", "PURPOSE", "FROM", "TO", "SOURCE",
                          "SERVICE", "ACTOR", "CHANGED", "REQUEST"},
                         rows);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunConsent(CliSession& s, const Args& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", kUsage));
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "set") return Set(s, rest);
  if (args[0] == "get") return Get(s, rest);
  if (args[0] == "history") return History(s, rest);
  return absl::InvalidArgumentError(absl::StrCat(
      "consent: unknown verb '", args[0], "'; usage: crmctl ", kUsage));
}

}  // namespace crm::client
