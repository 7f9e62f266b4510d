// The machine-readable details of an error from the CRM server: the
// google.rpc.Status the server sends in the "grpc-status-details-bin"
// trailer (grpc::Status::error_details()), decoded. The contract -- which
// reasons exist, when, with which metadata -- is proto/crm/v1/errors.proto.
//
//   grpc::Status s = client->accounts().UpdateAccount(ctx.get(), req, &out);
//   ErrorDetails d = DecodeErrorDetails(s);
//   if (d.reason == "STALE_ETAG") { ... d.metadata["current_etag"] ... }
//   for (const auto& v : d.field_violations) { ... v.field, v.description }
//
// Pure functions; thread-safe.
#ifndef CRM_CLIENTS_ERROR_DETAILS_H_
#define CRM_CLIENTS_ERROR_DETAILS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace crm::client {

struct ErrorDetails {
  // google.rpc.ErrorInfo; empty reason if the error carried none.
  std::string reason;  // e.g. "STALE_ETAG"
  std::string domain;  // "crm.example.com"
  std::map<std::string, std::string> metadata;
  // google.rpc.BadRequest: every invalid field of the request.
  struct FieldViolation {
    std::string field;
    std::string description;
  };
  std::vector<FieldViolation> field_violations;
  // google.rpc.PreconditionFailure.
  struct PreconditionViolation {
    std::string type;
    std::string subject;
    std::string description;
  };
  std::vector<PreconditionViolation> precondition_violations;
  // google.rpc.RetryInfo.
  std::optional<absl::Duration> retry_delay;
  // google.rpc.ResourceInfo.
  std::string resource_type;
  std::string resource_name;

  // True if no detail was decoded.
  bool empty() const;
};

// The google.rpc.Status in `status.error_details()`; nullopt if there is
// none (an OK status, an error without details, or bytes that do not parse).
std::optional<google::rpc::Status> RpcStatusOf(const grpc::Status& status);

// The details of `status`; empty if it has none. Unknown detail types are
// skipped.
ErrorDetails DecodeErrorDetails(const grpc::Status& status);
ErrorDetails DecodeErrorDetails(const google::rpc::Status& status);

// `status` as an absl::Status that keeps the details as payloads
// (base/error.h reads them: base::GetErrorInfo, ...).
absl::Status ToAbslStatus(const grpc::Status& status);

// Lines for people, each ending in "\n"; "" if `details` is empty:
//   reason: STALE_ETAG (current_etag="4", resource=accounts/42)
//   field account.display_name: required
//   precondition REFERENCED_BY roles/east: roles/east (parent) names roles/sales
//   retry after: 1s
std::string FormatErrorDetails(const ErrorDetails& details);

// One JSON object (no trailing newline) for programs:
//   {"code":"ABORTED","message":"...","reason":"STALE_ETAG",
//    "domain":"crm.example.com","metadata":{...},"field_violations":[...],
//    "precondition_violations":[...],"retry_delay_seconds":1.5,
//    "resource_name":"accounts/42"}
// Keys with no value are left out.
std::string ErrorJson(const absl::Status& status);

}  // namespace crm::client

#endif  // CRM_CLIENTS_ERROR_DETAILS_H_
