// Machine-readable error details on absl::Status, in the google.rpc model
// (proto/crm/v1/errors.proto states the contract clients rely on).
//
// A detail is an absl::Status payload whose type URL is the standard
// "type.googleapis.com/google.rpc.<Message>" and whose value is that
// message serialized (deterministically). ToRpcStatus gathers them into one
// google.rpc.Status; server/status_util.cc sends it in the
// "grpc-status-details-bin" trailer. A status without such payloads stays a
// plain code and message, end to end.
//
// Every helper keeps the status's code and message and any other payload;
// attaching a detail of a kind already present replaces it (one ErrorInfo
// per status). Helpers given an OK status return it unchanged (absl drops
// payloads on OK). No gRPC here: modules below server/ use this freely.
//
// Example:
//   return base::WithErrorInfo(absl::AbortedError("..."),
//                              v1::STALE_ETAG, {{"current_etag", "\"4\""}});
//
// Thread-safe (pure functions).
#ifndef CRM_BASE_ERROR_H_
#define CRM_BASE_ERROR_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/v1/errors.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace crm::base {

// ErrorInfo.domain of every reason in crm.v1.ErrorReason.
inline constexpr char kErrorDomain[] = "crm.example.com";
// Type URL prefix of the details; the full URL is prefix + full message name.
inline constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

using ErrorMetadata = std::map<std::string, std::string>;

// The reason's name as sent ("STALE_ETAG").
std::string ReasonName(crm::v1::ErrorReason reason);

// --- Attaching ----------------------------------------------------------

// ErrorInfo{reason, kErrorDomain, metadata}. Never put secrets in metadata.
absl::Status WithErrorInfo(absl::Status status, crm::v1::ErrorReason reason,
                           ErrorMetadata metadata = {});
// RetryInfo{retry_delay}; a negative delay is sent as zero.
absl::Status WithRetryInfo(absl::Status status, absl::Duration delay);
// ResourceInfo{resource_type, resource_name}.
absl::Status WithResourceInfo(absl::Status status,
                              std::string_view resource_type,
                              std::string_view resource_name);

struct PreconditionViolation {
  std::string type;
  std::string subject;
  std::string description;
};
absl::Status WithPreconditionFailure(
    absl::Status status, const std::vector<PreconditionViolation>& violations);

// Any message as a detail (for a google.rpc type not covered above).
absl::Status WithDetail(absl::Status status,
                        const google::protobuf::Message& detail);

// `message` with the code and every payload of `status` (absl has no way to
// change a message in place): for a caller that rewords a status without
// losing its details.
absl::Status WithMessage(const absl::Status& status, std::string_view message);

// --- Errors with their details ------------------------------------------

struct FieldViolation {
  std::string field;        // path in the request, e.g. "account.display_name"
  std::string description;  // what is wrong, e.g. "required"
};

// Collects every violation of one request, then reports them together.
//   base::BadRequestBuilder bad;
//   if (name.empty()) bad.Add("account.display_name", "required");
//   ...
//   if (!bad.empty()) return bad.Build();
class BadRequestBuilder {
 public:
  void Add(std::string field, std::string description);
  // A status made by other code ("FIELD: description" or any other text):
  // the "FIELD: " prefix is dropped from the description if present.
  // Details of `status` are not kept (the BadRequest says it all).
  void Add(std::string field, const absl::Status& status);
  // Every violation of a status that already carries a BadRequest, else its
  // message as one violation of `field`.
  void AddAll(std::string field, const absl::Status& status);

  // The ErrorInfo reason of the built status (default INVALID_REQUEST),
  // e.g. UNKNOWN_FIELD {field}. The first reason set wins; the two Add/AddAll
  // overloads taking a status adopt its reason if it has one other than
  // INVALID_REQUEST. "violations" is always added to the metadata.
  void SetReason(crm::v1::ErrorReason reason, ErrorMetadata metadata = {});

  bool empty() const { return violations_.empty(); }
  size_t size() const { return violations_.size(); }
  const std::vector<FieldViolation>& violations() const { return violations_; }

  // OK if empty; else BadRequestError(violations()).
  absl::Status Build() const;

 private:
  void AdoptReason(const absl::Status& status);

  std::vector<FieldViolation> violations_;
  crm::v1::ErrorReason reason_ = crm::v1::ERROR_REASON_UNSPECIFIED;
  ErrorMetadata reason_metadata_;
};

// INVALID_ARGUMENT listing every violation, first one first:
//   "F1: D1"                                   (one violation)
//   "F1: D1 (and 2 more: F2: D2; F3: D3)"      (several)
// with BadRequest (all of them) and ErrorInfo INVALID_REQUEST
// {"violations": N}. `violations` must not be empty.
absl::Status BadRequestError(const std::vector<FieldViolation>& violations);

// ABORTED "{resource} was changed since etag {expected} (current: {current});
// read it again and retry", with ErrorInfo STALE_ETAG {resource,
// expected_etag, current_etag} and ResourceInfo. Etags as the API shows
// them (model::EtagOf).
absl::Status StaleEtagError(std::string_view resource_name,
                            std::string_view expected_etag,
                            std::string_view current_etag);

// --- Reading --------------------------------------------------------------

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status);
std::optional<google::rpc::BadRequest> GetBadRequest(const absl::Status& status);
std::optional<google::rpc::PreconditionFailure> GetPreconditionFailure(
    const absl::Status& status);
std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status);
std::optional<google::rpc::ResourceInfo> GetResourceInfo(
    const absl::Status& status);
// The ErrorInfo reason, or "" if none.
std::string GetReason(const absl::Status& status);

// True if `status` carries any google.rpc detail.
bool HasDetails(const absl::Status& status);

// code, message and every google.rpc detail of `status` (packed in Any, in
// a fixed order: ErrorInfo, ResourceInfo, BadRequest, PreconditionFailure,
// RetryInfo, then others by type URL), so equal statuses give equal bytes.
google::rpc::Status ToRpcStatus(const absl::Status& status);
// Its deterministic serialization.
std::string SerializeRpcStatus(const google::rpc::Status& status);

// The inverse: a status with the code, message and details as payloads.
// OK if code is 0.
absl::Status FromRpcStatus(const google::rpc::Status& status);

}  // namespace crm::base

#endif  // CRM_BASE_ERROR_H_
