#include "clients/privacy_commands.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/erasure_receipt.h"
#include "absl/strings/str_split.h"
#include "clients/cli_args.h"
#include "clients/data_inventory_report.h"
#include "clients/output_format.h"
#include "crm/v1/data_inventory_service.pb.h"
#include "crm/v1/privacy_service.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kService[] = "crm.v1.PrivacyService/";
constexpr char kUsage[] =
    "privacy export PERSON [--out FILE] | erase PERSON [--dry-run] "
    "[--receipt-out FILE] | receipt get NAME [--out FILE] | receipt verify "
    "FILE [--public-key PEM] | rules | retention dry-run|run|runs "
    "[--page-size N] | inventory [--format markdown|json|csv] "
    "[--objects A,B] [--out FILE]";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string ReceiptJson(const crm::v1::ErasureReceipt& receipt) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string text;
  // A generated message always prints.
  (void)google::protobuf::util::MessageToJsonString(receipt, &text, options);
  return text;
}

void PrintRecords(CliSession& s,
                  const google::protobuf::RepeatedPtrField<
                      crm::v1::ErasedRecord>& records) {
  if (records.empty()) {
    s.out() << "(nothing held)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : records) {
    rows.push_back({r.record(),
                    r.action() == crm::v1::ErasedRecord::DELETED ? "delete"
                                                                  : "anonymize",
                    absl::StrJoin(r.fields(), ","),
                    absl::StrCat(r.shares_removed()),
                    absl::StrCat(r.history_scrubbed())});
  }
  s.out() << FormatTable({"RECORD", "ACTION", "FIELDS", "SHARES", "HISTORY"},
                         rows);
}

absl::Status Export(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"out", true}}, "privacy export", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ExportSubjectRequest request;
  request.set_subject(a->positional[0]);
  crm::v1::ExportSubjectResponse reply;
  if (auto st = s.Call(absl::StrCat(kService, "ExportSubject"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  const std::string out = a->Has("out") ? a->Get("out") : "-";
  if (auto st = WriteOutput(s, out,
                            [&](std::ostream& o) {
                              o << reply.document() << "\n";
                              return absl::OkStatus();
                            });
      !st.ok()) {
    return st;
  }
  if (out != "-") {
    std::vector<std::string> counts;
    for (const char* c : {"contacts", "leads", "activities", "cases"}) {
      auto it = reply.record_counts().find(c);
      counts.push_back(absl::StrCat(
          c, " ", it == reply.record_counts().end() ? 0 : it->second));
    }
    s.out() << "exported " << reply.subject() << " to " << out << ": "
            << absl::StrJoin(counts, ", ") << "\n";
  }
  return absl::OkStatus();
}

absl::Status Erase(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"dry-run", false}, {"receipt-out", true}},
                        "privacy erase", 1, 1, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::EraseSubjectRequest request;
  request.set_subject(a->positional[0]);
  request.set_dry_run(a->Has("dry-run"));
  crm::v1::EraseSubjectResponse reply;
  if (auto st = s.Call(absl::StrCat(kService, "EraseSubject"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) {
    if (auto st = s.PrintJson(reply); !st.ok()) return st;
  } else if (reply.already_erased()) {
    s.out() << reply.subject() << " was already erased ("
            << reply.receipt().name() << ", "
            << google::protobuf::util::TimeUtil::ToString(
                   reply.receipt().erase_time())
            << "); nothing done\n";
  } else if (reply.dry_run()) {
    s.out() << "dry run for " << reply.subject()
            << ": would erase (nothing written)\n";
    PrintRecords(s, reply.would_erase());
  } else {
    s.out() << "erased " << reply.subject() << ": " << reply.receipt().name()
            << " (signed by key " << reply.receipt().key_id() << ")\n";
    PrintRecords(s, reply.receipt().records());
  }
  if (a->Has("receipt-out") && reply.has_receipt()) {
    return WriteOutput(s, a->Get("receipt-out"), [&](std::ostream& o) {
      o << ReceiptJson(reply.receipt()) << "\n";
      return absl::OkStatus();
    });
  }
  return absl::OkStatus();
}

absl::Status ReceiptGet(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"out", true}}, "privacy receipt get", 1, 1,
                        kUsage);
  if (!a.ok()) return a.status();
  crm::v1::GetErasureReceiptRequest request;
  request.set_name(a->positional[0]);
  crm::v1::ErasureReceipt reply;
  if (auto st = s.Call(absl::StrCat(kService, "GetErasureReceipt"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  return WriteOutput(s, a->Has("out") ? a->Get("out") : "-",
                     [&](std::ostream& o) {
                       o << ReceiptJson(reply) << "\n";
                       return absl::OkStatus();
                     });
}

absl::Status ReceiptVerify(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"public-key", true}}, "privacy receipt verify",
                        1, 1, kUsage);
  if (!a.ok()) return a.status();
  auto text = ReadFile(a->positional[0]);
  if (!text.ok()) return text.status();
  crm::v1::ErasureReceipt receipt;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(*text, &receipt, options)
           .ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        a->positional[0],
        ": not an erasure receipt (the JSON `privacy erase --receipt-out` or "
        "`privacy receipt get` writes)"));
  }
  std::string pinned;
  if (a->Has("public-key")) {
    auto pem = ReadFile(a->Get("public-key"));
    if (!pem.ok()) return pem.status();
    pinned = *pem;
  }
  absl::Status v = audit::VerifyErasureReceipt(receipt, pinned);
  if (!v.ok()) {
    s.out() << "FAILED: " << v.message() << "\n";
    return absl::DataLossError(
        absl::StrCat("the erasure receipt does not verify: ", v.message()));
  }
  s.out() << "OK: " << receipt.name() << " for " << receipt.subject()
          << ", erased "
          << google::protobuf::util::TimeUtil::ToString(receipt.erase_time())
          << ", " << receipt.records_size() << " records, signed by key "
          << receipt.key_id() << (pinned.empty() ? " (not pinned)" : " (pinned)")
          << "\n";
  return absl::OkStatus();
}

absl::Status Rules(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "privacy rules", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ErasureRules reply;
  if (auto st = s.Call(absl::StrCat(kService, "GetErasureRules"),
                       crm::v1::GetErasureRulesRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reply.rules()) {
    rows.push_back({r.object(),
                    r.action() == crm::v1::ErasureRule::DELETE ? "delete"
                                                               : "anonymize",
                    absl::StrJoin(r.fields(), ",")});
  }
  s.out() << FormatTable({"OBJECT", "ACTION", "FIELDS"}, rows);
  return absl::OkStatus();
}

std::string When(const google::protobuf::Timestamp& t) {
  return t.seconds() == 0 ? "-" : google::protobuf::util::TimeUtil::ToString(t);
}

absl::Status RetentionDryRun(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "privacy retention dry-run", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::RetentionReport reply;
  if (auto st = s.Call(absl::StrCat(kService, "PreviewRetention"),
                       crm::v1::PreviewRetentionRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  s.out() << "retention dry run as of " << When(reply.as_of())
          << " (nothing written)\n";
  if (reply.rules().empty()) {
    s.out() << "(no retention rule configured)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reply.rules()) {
    rows.push_back({r.rule(), r.object(), absl::StrCat(r.records()),
                    absl::StrJoin(r.sample(), ",")});
  }
  s.out() << FormatTable({"RULE", "OBJECT", "RECORDS", "E.G."}, rows);
  return absl::OkStatus();
}

void PrintRuns(CliSession& s,
               const google::protobuf::RepeatedPtrField<crm::v1::RetentionRun>&
                   runs) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& run : runs) {
    std::vector<std::string> counts;
    for (const auto& r : run.rules()) {
      counts.push_back(absl::StrCat(r.rule(), "=", r.records()));
    }
    rows.push_back({run.name(), run.trigger(), When(run.start_time()),
                    When(run.end_time()), run.outcome(),
                    absl::StrCat(run.batches()), absl::StrJoin(counts, " ")});
  }
  s.out() << FormatTable(
      {"RUN", "TRIGGER", "STARTED", "ENDED", "OUTCOME", "BATCHES", "RECORDS"},
      rows);
}

absl::Status RetentionRun(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "privacy retention run", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::RetentionRun reply;
  if (auto st = s.Call(absl::StrCat(kService, "RunRetention"),
                       crm::v1::RunRetentionRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  google::protobuf::RepeatedPtrField<crm::v1::RetentionRun> one;
  *one.Add() = reply;
  PrintRuns(s, one);
  return absl::OkStatus();
}

absl::Status RetentionRuns(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"page-size", true}}, "privacy retention runs",
                        0, 0, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::ListRetentionRunsRequest request;
  if (a->Has("page-size")) {
    int n = 0;
    if (!absl::SimpleAtoi(a->Get("page-size"), &n)) {
      return absl::InvalidArgumentError("--page-size: a number, 1-100");
    }
    request.set_page_size(n);
  }
  crm::v1::ListRetentionRunsResponse reply;
  if (auto st = s.Call(absl::StrCat(kService, "ListRetentionRuns"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.runs().empty()) {
    s.out() << "(no retention run yet)\n";
    return absl::OkStatus();
  }
  PrintRuns(s, reply.runs());
  return absl::OkStatus();
}

// The data inventory ("what we hold and why"), markdown by default (the
// global --output json also selects JSON).
absl::Status Inventory(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"format", true}, {"objects", true},
                               {"out", true}},
                        "privacy inventory", 0, 0, kUsage);
  if (!a.ok()) return a.status();
  std::string format = a->Has("format") ? a->Get("format")
                       : s.globals().output == OutputFormat::kJson
                           ? "json"
                           : "markdown";
  if (format != "markdown" && format != "json" && format != "csv") {
    return absl::InvalidArgumentError(absl::StrCat(
        "privacy inventory: --format '", format,
        "' is not one of markdown, json, csv"));
  }
  crm::v1::GetDataInventoryRequest request;
  if (a->Has("objects")) {
    for (absl::string_view o :
         absl::StrSplit(a->Get("objects"), ',', absl::SkipEmpty())) {
      request.add_objects(std::string(o));
    }
  }
  crm::v1::DataInventory reply;
  if (auto st = s.Call("crm.v1.DataInventoryService/GetDataInventory", request,
                       &reply);
      !st.ok()) {
    return st;
  }
  std::string text;
  if (format == "json") {
    auto json = FormatJson(reply);
    if (!json.ok()) return json.status();
    text = *std::move(json);
  } else if (format == "csv") {
    text = DataInventoryCsv(reply);
  } else {
    text = DataInventoryMarkdown(reply);
  }
  return WriteOutput(s, a->Has("out") ? a->Get("out") : "-",
                     [&](std::ostream& o) {
                       o << text;
                       return absl::OkStatus();
                     });
}

}  // namespace

absl::Status RunPrivacy(CliSession& s, const Args& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", kUsage));
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "export") return Export(s, rest);
  if (args[0] == "erase") return Erase(s, rest);
  if (args[0] == "rules") return Rules(s, rest);
  if (args[0] == "inventory") return Inventory(s, rest);
  if (args[0] == "retention" && !rest.empty()) {
    const Args more(rest.begin() + 1, rest.end());
    if (rest[0] == "dry-run") return RetentionDryRun(s, more);
    if (rest[0] == "run") return RetentionRun(s, more);
    if (rest[0] == "runs") return RetentionRuns(s, more);
  }
  if (args[0] == "receipt" && !rest.empty()) {
    const Args more(rest.begin() + 1, rest.end());
    if (rest[0] == "get") return ReceiptGet(s, more);
    if (rest[0] == "verify") return ReceiptVerify(s, more);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "privacy: unknown verb '", absl::StrJoin(args, " "), "'; usage: crmctl ",
      kUsage));
}

}  // namespace crm::client
