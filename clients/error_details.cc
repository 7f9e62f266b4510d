#include "clients/error_details.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"
#include "base/log.h"
#include "google/rpc/error_details.pb.h"

namespace crm::client {

bool ErrorDetails::empty() const {
  return reason.empty() && domain.empty() && metadata.empty() &&
         field_violations.empty() && precondition_violations.empty() &&
         !retry_delay.has_value() && resource_type.empty() &&
         resource_name.empty();
}

std::optional<google::rpc::Status> RpcStatusOf(const grpc::Status& status) {
  if (status.ok() || status.error_details().empty()) return std::nullopt;
  google::rpc::Status rpc;
  if (!rpc.ParseFromString(status.error_details())) return std::nullopt;
  return rpc;
}

ErrorDetails DecodeErrorDetails(const google::rpc::Status& status) {
  ErrorDetails out;
  for (const auto& any : status.details()) {
    if (google::rpc::ErrorInfo info; any.Is<google::rpc::ErrorInfo>() &&
                                     any.UnpackTo(&info)) {
      out.reason = info.reason();
      out.domain = info.domain();
      out.metadata.insert(info.metadata().begin(), info.metadata().end());
    } else if (google::rpc::BadRequest bad;
               any.Is<google::rpc::BadRequest>() && any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) {
        out.field_violations.push_back({v.field(), v.description()});
      }
    } else if (google::rpc::PreconditionFailure failure;
               any.Is<google::rpc::PreconditionFailure>() &&
               any.UnpackTo(&failure)) {
      for (const auto& v : failure.violations()) {
        out.precondition_violations.push_back(
            {v.type(), v.subject(), v.description()});
      }
    } else if (google::rpc::RetryInfo retry;
               any.Is<google::rpc::RetryInfo>() && any.UnpackTo(&retry)) {
      out.retry_delay = absl::Seconds(retry.retry_delay().seconds()) +
                        absl::Nanoseconds(retry.retry_delay().nanos());
    } else if (google::rpc::ResourceInfo resource;
               any.Is<google::rpc::ResourceInfo>() &&
               any.UnpackTo(&resource)) {
      out.resource_type = resource.resource_type();
      out.resource_name = resource.resource_name();
    }
  }
  return out;
}

ErrorDetails DecodeErrorDetails(const grpc::Status& status) {
  std::optional<google::rpc::Status> rpc = RpcStatusOf(status);
  if (!rpc.has_value()) return ErrorDetails();
  return DecodeErrorDetails(*rpc);
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (std::optional<google::rpc::Status> rpc = RpcStatusOf(status)) {
    for (const auto& any : rpc->details()) {
      out.SetPayload(any.type_url(), absl::Cord(any.value()));
    }
  }
  return out;
}

std::string FormatErrorDetails(const ErrorDetails& d) {
  std::string out;
  if (!d.reason.empty()) {
    absl::StrAppend(&out, "reason: ", d.reason);
    if (!d.metadata.empty()) {
      absl::StrAppend(&out, " (",
                      absl::StrJoin(d.metadata, ", ", absl::PairFormatter("=")),
                      ")");
    }
    absl::StrAppend(&out, "\n");
  }
  for (const auto& v : d.field_violations) {
    absl::StrAppend(&out, "field ", v.field.empty() ? "(request)" : v.field,
                    ": ", v.description, "\n");
  }
  for (const auto& v : d.precondition_violations) {
    absl::StrAppend(&out, "precondition ", v.type, " ", v.subject,
                    v.description.empty() ? "" : ": ", v.description, "\n");
  }
  if (d.retry_delay.has_value()) {
    absl::StrAppend(&out, "retry after: ", absl::FormatDuration(*d.retry_delay),
                    "\n");
  }
  return out;
}

namespace {

std::string Quoted(absl::string_view s) {
  return absl::StrCat("\"", base::JsonEscape(s), "\"");
}

}  // namespace

std::string ErrorJson(const absl::Status& status) {
  std::vector<std::string> fields;
  fields.push_back(absl::StrCat(
      "\"code\":", Quoted(absl::StatusCodeToString(status.code()))));
  fields.push_back(absl::StrCat("\"message\":", Quoted(status.message())));
  const ErrorDetails d = DecodeErrorDetails(base::ToRpcStatus(status));
  if (!d.reason.empty()) {
    fields.push_back(absl::StrCat("\"reason\":", Quoted(d.reason)));
    fields.push_back(absl::StrCat("\"domain\":", Quoted(d.domain)));
  }
  if (!d.metadata.empty()) {
    std::vector<std::string> pairs;
    for (const auto& [k, v] : d.metadata) {
      pairs.push_back(absl::StrCat(Quoted(k), ":", Quoted(v)));
    }
    fields.push_back(
        absl::StrCat("\"metadata\":{", absl::StrJoin(pairs, ","), "}"));
  }
  if (!d.field_violations.empty()) {
    std::vector<std::string> items;
    for (const auto& v : d.field_violations) {
      items.push_back(absl::StrCat("{\"field\":", Quoted(v.field),
                                   ",\"description\":", Quoted(v.description),
                                   "}"));
    }
    fields.push_back(absl::StrCat("\"field_violations\":[",
                                  absl::StrJoin(items, ","), "]"));
  }
  if (!d.precondition_violations.empty()) {
    std::vector<std::string> items;
    for (const auto& v : d.precondition_violations) {
      items.push_back(absl::StrCat(
          "{\"type\":", Quoted(v.type), ",\"subject\":", Quoted(v.subject),
          ",\"description\":", Quoted(v.description), "}"));
    }
    fields.push_back(absl::StrCat("\"precondition_violations\":[",
                                  absl::StrJoin(items, ","), "]"));
  }
  if (d.retry_delay.has_value()) {
    fields.push_back(absl::StrCat("\"retry_delay_seconds\":",
                                  absl::ToDoubleSeconds(*d.retry_delay)));
  }
  if (!d.resource_name.empty()) {
    fields.push_back(
        absl::StrCat("\"resource_name\":", Quoted(d.resource_name)));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ","), "}");
}

}  // namespace crm::client
