// Builds the requests of a resource's standard methods (AIP-131..135) from
// command-line input, for any resource, using only its descriptors.
#ifndef CRM_CLIENTS_RESOURCE_REQUESTS_H_
#define CRM_CLIENTS_RESOURCE_REQUESTS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/descriptor_catalog.h"

namespace crm::client {

// A new empty message of `type` (generated class if linked, else dynamic).
// Never null for a type from the generated pool. Thread-safe.
std::unique_ptr<google::protobuf::Message> NewMessage(
    const google::protobuf::Descriptor* type);

// Parses JSON (proto3 mapping; field names in either form) into `message`.
// INVALID_ARGUMENT "<what>: not a valid <Type>: <parser detail>".
absl::Status ParseJsonInto(absl::string_view what, absl::string_view json,
                           google::protobuf::Message* message);

// "abc" -> "accounts/abc"; "accounts/abc" unchanged. INVALID_ARGUMENT if
// empty or a name in another collection.
absl::StatusOr<std::string> ResourceName(absl::string_view collection,
                                         absl::string_view arg);

struct ListOptions {
  std::string filter;
  std::string order_by;
  int page_size = 0;
  std::string page_token;
};

// Each fails with UNIMPLEMENTED if the resource's service has no such
// method, and INVALID_ARGUMENT for bad input (naming the field or flag).
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildGetRequest(
    const ResourceMethods& r, absl::string_view name);

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildListRequest(
    const ResourceMethods& r, const ListOptions& options);

// The resource is parsed from `json` (if not empty) and then from the
// "field=value" assignments. A non-empty `request_id` makes the create
// idempotent (AIP-155; the server checks its format).
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildCreateRequest(
    const ResourceMethods& r, const std::vector<std::string>& assignments,
    absl::string_view json, absl::string_view request_id = "");

// update_mask = the assigned fields, plus the keys of `json`; "name" and
// "etag" are never in it. At least one field must be given. A non-empty
// `etag` makes the update conditional.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildUpdateRequest(
    const ResourceMethods& r, absl::string_view name,
    const std::vector<std::string>& assignments, absl::string_view json,
    absl::string_view etag);

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildDeleteRequest(
    const ResourceMethods& r, absl::string_view name, absl::string_view etag);

// The repeated resource field of a List response and its next_page_token
// field (null if absent).
const google::protobuf::FieldDescriptor* ListRecordsField(
    const ResourceMethods& r);
const google::protobuf::FieldDescriptor* NextPageTokenField(
    const ResourceMethods& r);

}  // namespace crm::client

#endif  // CRM_CLIENTS_RESOURCE_REQUESTS_H_
