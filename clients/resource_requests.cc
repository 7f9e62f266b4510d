#include "clients/resource_requests.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/field_values.h"

namespace crm::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using MessagePtr = std::unique_ptr<Message>;

absl::Status Missing(const ResourceMethods& r, absl::string_view verb) {
  return absl::UnimplementedError(
      absl::StrCat("the ", r.collection, " service has no ", verb, " method"));
}

// Sets string field `field_name` of `m`; INVALID_ARGUMENT naming `flag` if
// the request has no such field.
absl::Status SetString(Message* m, const std::string& field_name,
                       const std::string& value, absl::string_view flag) {
  if (value.empty()) return absl::OkStatus();
  const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(field_name);
  if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    return absl::InvalidArgumentError(
        absl::StrCat(m->GetDescriptor()->name(), " does not support ", flag));
  }
  m->GetReflection()->SetString(m, f, value);
  return absl::OkStatus();
}

absl::Status MergeJson(absl::string_view json, Message* resource) {
  if (json.empty()) return absl::OkStatus();
  return ParseJsonInto("--json", json, resource);
}

// The resource field of a Create/Update request, mutable.
Message* MutableResource(Message* request, const ResourceMethods& r) {
  const FieldDescriptor* f =
      FindFieldOfType(request->GetDescriptor(), r.resource, false);
  return request->GetReflection()->MutableMessage(request, f);
}

absl::StatusOr<MessagePtr> NameRequest(
    const ResourceMethods& r, const google::protobuf::MethodDescriptor* m,
    absl::string_view name) {
  auto full = ResourceName(r.collection, name);
  if (!full.ok()) return full.status();
  MessagePtr request = NewMessage(m->input_type());
  if (auto s = SetString(request.get(), "name", *full, "a name"); !s.ok())
    return s;
  return request;
}

}  // namespace

absl::Status ParseJsonInto(absl::string_view what, absl::string_view json,
                           Message* message) {
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": not a valid ", message->GetDescriptor()->name(),
                     ": ", status.message().as_string()));
  }
  return absl::OkStatus();
}

MessagePtr NewMessage(const Descriptor* type) {
  static auto* const factory = [] {
    auto* f = new google::protobuf::DynamicMessageFactory();
    f->SetDelegateToGeneratedFactory(true);
    return f;
  }();
  return MessagePtr(factory->GetPrototype(type)->New());
}

absl::StatusOr<std::string> ResourceName(absl::string_view collection,
                                         absl::string_view arg) {
  if (arg.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing resource name, e.g. ", collection, "/ID"));
  }
  if (!absl::StrContains(arg, '/')) return absl::StrCat(collection, "/", arg);
  if (!absl::StartsWith(arg, absl::StrCat(collection, "/"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", arg, "' is not a name in ", collection, " (", collection, "/ID)"));
  }
  return std::string(arg);
}

absl::StatusOr<MessagePtr> BuildGetRequest(const ResourceMethods& r,
                                           absl::string_view name) {
  if (r.get == nullptr) return Missing(r, "Get");
  return NameRequest(r, r.get, name);
}

absl::StatusOr<MessagePtr> BuildListRequest(const ResourceMethods& r,
                                            const ListOptions& options) {
  if (r.list == nullptr) return Missing(r, "List");
  MessagePtr request = NewMessage(r.list->input_type());
  Message* m = request.get();
  if (auto s = SetString(m, "filter", options.filter, "--filter"); !s.ok())
    return s;
  if (auto s = SetString(m, "order_by", options.order_by, "--order-by");
      !s.ok())
    return s;
  if (auto s = SetString(m, "page_token", options.page_token, "--page-token");
      !s.ok())
    return s;
  if (options.page_size != 0) {
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName("page_size");
    if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_INT32) {
      return absl::InvalidArgumentError(absl::StrCat(
          m->GetDescriptor()->name(), " does not support --page-size"));
    }
    m->GetReflection()->SetInt32(m, f, options.page_size);
  }
  return request;
}

absl::StatusOr<MessagePtr> BuildCreateRequest(
    const ResourceMethods& r, const std::vector<std::string>& assignments,
    absl::string_view json, absl::string_view request_id) {
  if (r.create == nullptr) return Missing(r, "Create");
  MessagePtr request = NewMessage(r.create->input_type());
  if (auto s = SetString(request.get(), "request_id", std::string(request_id),
                         "--request-id");
      !s.ok())
    return s;
  Message* resource = MutableResource(request.get(), r);
  if (auto s = MergeJson(json, resource); !s.ok()) return s;
  auto paths = ApplyAssignments(resource, assignments);
  if (!paths.ok()) return paths.status();
  if (json.empty() && assignments.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "create: give the fields as field=value or --json; settable fields: ",
        SettableFieldNames(r.resource)));
  }
  return request;
}

absl::StatusOr<MessagePtr> BuildUpdateRequest(
    const ResourceMethods& r, absl::string_view name,
    const std::vector<std::string>& assignments, absl::string_view json,
    absl::string_view etag) {
  if (r.update == nullptr) return Missing(r, "Update");
  auto full = ResourceName(r.collection, name);
  if (!full.ok()) return full.status();
  MessagePtr request = NewMessage(r.update->input_type());
  Message* resource = MutableResource(request.get(), r);
  std::vector<std::string> paths;
  if (!json.empty()) {
    auto json_paths = JsonMaskPaths(r.resource, json);
    if (!json_paths.ok()) return json_paths.status();
    if (auto s = MergeJson(json, resource); !s.ok()) return s;
    paths = *json_paths;
  }
  auto assigned = ApplyAssignments(resource, assignments);
  if (!assigned.ok()) return assigned.status();
  for (const std::string& p : *assigned) {
    if (std::find(paths.begin(), paths.end(), p) == paths.end())
      paths.push_back(p);
  }
  paths.erase(std::remove_if(paths.begin(), paths.end(),
                             [](const std::string& p) {
                               return p == "name" || p == "etag";
                             }),
              paths.end());
  if (paths.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update: name the fields to change as field=value (field= clears); "
        "settable fields: ",
        SettableFieldNames(r.resource)));
  }
  if (auto s = SetString(resource, "name", *full, "a name"); !s.ok()) return s;
  if (auto s = SetString(resource, "etag", std::string(etag), "--etag");
      !s.ok())
    return s;

  const FieldDescriptor* mask_field = nullptr;
  const Descriptor* in = request->GetDescriptor();
  for (int i = 0; i < in->field_count(); ++i) {
    const Descriptor* t = in->field(i)->message_type();
    if (t != nullptr && t->full_name() == "google.protobuf.FieldMask") {
      mask_field = in->field(i);
    }
  }
  if (mask_field == nullptr) {
    return absl::InternalError(
        absl::StrCat(in->full_name(), " has no FieldMask"));
  }
  Message* mask =
      request->GetReflection()->MutableMessage(request.get(), mask_field);
  const FieldDescriptor* mask_paths =
      mask->GetDescriptor()->FindFieldByName("paths");
  for (const std::string& p : paths) {
    mask->GetReflection()->AddString(mask, mask_paths, p);
  }
  return request;
}

absl::StatusOr<MessagePtr> BuildDeleteRequest(const ResourceMethods& r,
                                              absl::string_view name,
                                              absl::string_view etag) {
  if (r.remove == nullptr) return Missing(r, "Delete");
  auto request = NameRequest(r, r.remove, name);
  if (!request.ok()) return request.status();
  if (auto s = SetString(request->get(), "etag", std::string(etag), "--etag");
      !s.ok()) {
    return s;
  }
  return request;
}

const FieldDescriptor* ListRecordsField(const ResourceMethods& r) {
  if (r.list == nullptr) return nullptr;
  return FindFieldOfType(r.list->output_type(), r.resource, /*repeated=*/true);
}

const FieldDescriptor* NextPageTokenField(const ResourceMethods& r) {
  if (r.list == nullptr) return nullptr;
  return r.list->output_type()->FindFieldByName("next_page_token");
}

}  // namespace crm::client
