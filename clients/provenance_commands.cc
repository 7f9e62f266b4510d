#include "clients/provenance_commands.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli_args.h"
#include "clients/descriptor_catalog.h"
#include "clients/output_format.h"
#include "crm/v1/provenance_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kService[] = "crm.v1.ProvenanceService/";

// "contacts/ada": a name in a known collection.
absl::Status CheckRecordName(const std::string& arg,
                             absl::string_view command) {
  std::pair<std::string, std::string> parts =
      absl::StrSplit(arg, absl::MaxSplits('/', 1));
  if (parts.second.empty() || parts.second.find('/') != std::string::npos ||
      !FindResource(parts.first).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(command, ": '", arg,
                     "' is not a record name; use COLLECTION/ID, e.g. "
                     "contacts/ada, with COLLECTION one of ",
                     absl::StrJoin(Collections(), ", ")));
  }
  return absl::OkStatus();
}

std::vector<std::string> WriterColumns(const crm::v1::FieldProvenance& p) {
  return {p.field(),
          p.source(),
          p.service(),
          p.actor(),
          google::protobuf::util::TimeUtil::ToString(p.write_time()),
          p.request_id()};
}

}  // namespace

absl::Status RunProvenance(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "provenance", 1, 1, "provenance RECORD");
  if (!a.ok()) return a.status();
  if (auto st = CheckRecordName(a->positional[0], "provenance"); !st.ok()) {
    return st;
  }
  crm::v1::GetRecordProvenanceRequest request;
  request.set_record(a->positional[0]);
  crm::v1::RecordProvenance reply;
  if (auto st = s.Call(absl::StrCat(kService, "GetRecordProvenance"), request,
                       &reply);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.fields().empty()) {
    s.out() << "(no provenance recorded)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : reply.fields()) rows.push_back(WriterColumns(p));
  s.out() << FormatTable(
      {"FIELD", "SOURCE", "SERVICE", "ACTOR", "WRITTEN", "REQUEST"}, rows);
  return absl::OkStatus();
}

absl::Status RunHistory(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"field", true}}, "history", 1, 1,
                        "history RECORD [--field F]");
  if (!a.ok()) return a.status();
  if (auto st = CheckRecordName(a->positional[0], "history"); !st.ok()) {
    return st;
  }
  crm::v1::ListFieldHistoryRequest request;
  request.set_record(a->positional[0]);
  request.set_field(a->Get("field"));
  crm::v1::ListFieldHistoryResponse all;
  if (auto st = ListAll(s, absl::StrCat(kService, "ListFieldHistory"),
                        request, &all);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  if (all.changes().empty()) {
    s.out() << "(no history recorded)\n";
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : all.changes()) {
    std::vector<std::string> row = WriterColumns(c.provenance());
    row.insert(row.begin(), absl::StrCat(c.sequence()));
    row.insert(row.begin() + 2, c.operation());
    row.insert(row.begin() + 3,
               c.value_recorded() ? c.value() : "(not kept: sensitive)");
    rows.push_back(std::move(row));
  }
  s.out() << FormatTable({"SEQ", "FIELD", "OP", "VALUE", "SOURCE", "SERVICE",
                          "ACTOR", "WRITTEN", "REQUEST"},
                         rows);
  return absl::OkStatus();
}

}  // namespace crm::client
