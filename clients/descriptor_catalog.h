// Finds the CRM's services, methods and resources in the generated
// descriptor pool, so the client needs no per-service or per-resource code.
//
// Only .proto files whose generated code is linked into the binary are seen
// (a static library drops unreferenced objects); CrmClient references every
// current service, and new ones appear once their code is linked.
#ifndef CRM_CLIENTS_DESCRIPTOR_CATALOG_H_
#define CRM_CLIENTS_DESCRIPTOR_CATALOG_H_

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::client {

// Every service in a package named "crm" or "crm.*", sorted by full name.
// Thread-safe; computed once.
const std::vector<const google::protobuf::ServiceDescriptor*>& CrmServices();

// Every message carrying the (crm.v1.resource) option, sorted by collection.
const std::vector<const google::protobuf::Descriptor*>& ResourceMessages();

// The standard methods of one resource, found by their shapes: Get returns
// the resource; List returns a message with a repeated field of it; Create
// and Update take a message with a field of it; Delete's name starts with
// "Delete" and its input has a "name" field. A method the service lacks is
// null.
struct ResourceMethods {
  const google::protobuf::Descriptor* resource = nullptr;
  std::string collection;  // "accounts"
  std::string singular;    // "account"
  const google::protobuf::ServiceDescriptor* service = nullptr;
  const google::protobuf::MethodDescriptor* get = nullptr;
  const google::protobuf::MethodDescriptor* list = nullptr;
  const google::protobuf::MethodDescriptor* create = nullptr;
  const google::protobuf::MethodDescriptor* update = nullptr;
  const google::protobuf::MethodDescriptor* remove = nullptr;
};

// The resource whose collection is `collection` and its methods. NOT_FOUND
// (listing the known collections) if there is none.
absl::StatusOr<ResourceMethods> FindResource(absl::string_view collection);

// The collections of ResourceMessages(), in the same order.
std::vector<std::string> Collections();

// Resolves "crm.v1.AccountService/GetAccount" (also with a leading '/', or
// with the package omitted for services in crm.v1:
// "AccountService/GetAccount"). NOT_FOUND names the known services, or the
// service's methods.
absl::StatusOr<const google::protobuf::MethodDescriptor*> FindMethod(
    absl::string_view full_name);

// "/crm.v1.AccountService/GetAccount": the HTTP/2 path gRPC calls.
std::string MethodPath(const google::protobuf::MethodDescriptor* method);

// The first field of `message` that is a singular message field of type
// `type`, or null.
const google::protobuf::FieldDescriptor* FindFieldOfType(
    const google::protobuf::Descriptor* message,
    const google::protobuf::Descriptor* type, bool repeated);

}  // namespace crm::client

#endif  // CRM_CLIENTS_DESCRIPTOR_CATALOG_H_
