// crmctl keys ... (clients/key_commands.h documents the commands;
// crm/v1/key_admin_service.proto the contract).
#include "clients/key_commands.h"

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "clients/cli.h"
#include "clients/error_details.h"
#include "clients/output_format.h"
#include "crm/v1/key_admin_service.pb.h"
#include "google/protobuf/util/time_util.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kUsage[] =
    "keys status [--json] | keys rotate [--batch N] [--resume]";

void PrintStale(CliSession& s, const google::protobuf::RepeatedPtrField<
                                   crm::v1::StaleFieldValues>& stale) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : stale)
    rows.push_back({v.field(), absl::StrCat(v.values())});
  s.out() << FormatTable({"FIELD", "VALUES NOT UNDER THE CURRENT KEY"}, rows);
}

absl::Status Status(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"json", false}}, "keys status", 0, 0,
                        "keys status [--json]");
  if (!a.ok()) return a.status();
  crm::v1::KeyStatus reply;
  if (auto st = s.Call("crm.v1.KeyAdminService/GetKeyStatus",
                       crm::v1::GetKeyStatusRequest(), &reply);
      !st.ok()) {
    return st;
  }
  if (a->Has("json") || s.globals().output == OutputFormat::kJson) {
    return s.PrintJson(reply);
  }
  s.out() << "master key " << reply.master_key_id() << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : reply.data_keys()) {
    rows.push_back({k.id(),
                    google::protobuf::util::TimeUtil::ToString(k.create_time()),
                    k.current() ? "current" : "",
                    k.master_key_id() == reply.master_key_id()
                        ? ""
                        : absl::StrCat("wrapped under ", k.master_key_id())});
  }
  s.out() << FormatTable({"DATA KEY", "CREATED", "CURRENT", ""}, rows);
  PrintStale(s, reply.stale());
  if (reply.stale_total() == 0) {
    s.out() << "every value is under the current data key "
            << reply.current_data_key() << "\n";
  } else {
    s.out() << reply.stale_total()
            << " value(s) are not under the current data key "
            << reply.current_data_key()
            << " yet; re-encrypt them with: crmctl keys rotate --resume\n";
  }
  return absl::OkStatus();
}

absl::Status Rotate(CliSession& s, const Args& args) {
  auto a =
      ParseCommand(args, {{"batch", true}, {"resume", false}}, "keys rotate", 0,
                   0, "keys rotate [--batch N] [--resume]");
  if (!a.ok()) return a.status();
  crm::v1::RotateDataKeyRequest request;
  request.set_mode(a->Has("resume") ? crm::v1::RotateDataKeyRequest::RESUME
                                    : crm::v1::RotateDataKeyRequest::NEW_KEY);
  if (a->Has("batch")) {
    int batch = 0;
    if (!absl::SimpleAtoi(a->Get("batch"), &batch) || batch <= 0) {
      return absl::InvalidArgumentError(
          "keys rotate: --batch takes a positive number of records per "
          "transaction (default 500)");
    }
    request.set_batch_size(batch);
  }
  auto client = s.Client();
  if (!client.ok()) return client.status();
  auto context = (*client)->NewContext();
  // A rotation takes as long as the data needs; interrupting crmctl stops
  // it between two batches (and --resume finishes it).
  context->set_deadline(std::chrono::system_clock::time_point::max());
  crm::v1::RotateDataKeyResponse reply;
  grpc::Status status =
      (*client)->key_admin().RotateDataKey(context.get(), request, &reply);
  if (!status.ok()) return RpcError(ToAbslStatus(status));
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(reply);
  if (reply.previous_data_key().empty()) {
    s.out() << "resumed re-encryption under data key " << reply.data_key()
            << "\n";
  } else {
    s.out() << "new current data key " << reply.data_key() << " (was "
            << reply.previous_data_key() << ")\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reply.reencrypted()) {
    rows.push_back({r.collection(), absl::StrCat(r.records())});
  }
  s.out() << FormatTable({"COLLECTION", "RECORDS RE-ENCRYPTED"}, rows);
  s.out() << reply.reencrypted_total() << " record(s) re-encrypted in "
          << reply.batches() << " batch(es)\n";
  int64_t remaining = 0;
  for (const auto& v : reply.remaining()) remaining += v.values();
  if (remaining > 0) {
    s.out() << remaining
            << " value(s) were written under an older key meanwhile; run: "
               "crmctl keys rotate --resume\n";
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunKeys(CliSession& s, const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", kUsage));
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "status") return Status(s, rest);
  if (args[0] == "rotate") return Rotate(s, rest);
  return absl::InvalidArgumentError(absl::StrCat(
      "keys: unknown verb '", args[0], "'; usage: crmctl ", kUsage));
}

}  // namespace crm::client
