#include "clients/descriptor_catalog.h"

#include <google/protobuf/descriptor_database.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "crm/v1/annotations.pb.h"

namespace crm::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

bool IsCrmPackage(const std::string& package) {
  return package == "crm" || absl::StartsWith(package, "crm.");
}

// Every linked .proto file in a crm package.
std::vector<const FileDescriptor*> CrmFiles() {
  std::vector<std::string> names;
  DescriptorPool::internal_generated_database()->FindAllFileNames(&names);
  std::vector<const FileDescriptor*> files;
  for (const std::string& name : names) {
    const FileDescriptor* file =
        DescriptorPool::generated_pool()->FindFileByName(name);
    if (file != nullptr && IsCrmPackage(file->package())) files.push_back(file);
  }
  return files;
}

void AddResources(const Descriptor* message,
                  std::vector<const Descriptor*>* out) {
  if (message->options().HasExtension(crm::v1::resource)) {
    out->push_back(message);
  }
  for (int i = 0; i < message->nested_type_count(); ++i) {
    AddResources(message->nested_type(i), out);
  }
}

std::string CollectionOf(const Descriptor* message) {
  return message->options().GetExtension(crm::v1::resource).collection();
}

}  // namespace

const std::vector<const ServiceDescriptor*>& CrmServices() {
  static const auto* const services = [] {
    auto* out = new std::vector<const ServiceDescriptor*>;
    for (const FileDescriptor* file : CrmFiles()) {
      for (int i = 0; i < file->service_count(); ++i) {
        out->push_back(file->service(i));
      }
    }
    std::sort(out->begin(), out->end(),
              [](auto* a, auto* b) { return a->full_name() < b->full_name(); });
    return out;
  }();
  return *services;
}

const std::vector<const Descriptor*>& ResourceMessages() {
  static const auto* const resources = [] {
    auto* out = new std::vector<const Descriptor*>;
    for (const FileDescriptor* file : CrmFiles()) {
      for (int i = 0; i < file->message_type_count(); ++i) {
        AddResources(file->message_type(i), out);
      }
    }
    std::sort(out->begin(), out->end(), [](auto* a, auto* b) {
      return CollectionOf(a) < CollectionOf(b);
    });
    return out;
  }();
  return *resources;
}

std::vector<std::string> Collections() {
  std::vector<std::string> out;
  for (const Descriptor* d : ResourceMessages()) out.push_back(CollectionOf(d));
  return out;
}

const FieldDescriptor* FindFieldOfType(const Descriptor* message,
                                       const Descriptor* type, bool repeated) {
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    if (f->message_type() == type && f->is_repeated() == repeated) return f;
  }
  return nullptr;
}

namespace {

// Assigns `m` to the standard-method slot its name and shape fit, if any.
void Classify(const MethodDescriptor* m, ResourceMethods* r) {
  const std::string& name = m->name();
  const Descriptor* in = m->input_type();
  const Descriptor* out = m->output_type();
  if (absl::StartsWith(name, "Get") && out == r->resource) {
    r->get = m;
  } else if (absl::StartsWith(name, "List") &&
             FindFieldOfType(out, r->resource, /*repeated=*/true) != nullptr) {
    r->list = m;
  } else if (absl::StartsWith(name, "Create") &&
             FindFieldOfType(in, r->resource, false) != nullptr) {
    r->create = m;
  } else if (absl::StartsWith(name, "Update") &&
             FindFieldOfType(in, r->resource, false) != nullptr) {
    r->update = m;
  } else if (absl::StartsWith(name, "Delete") &&
             in->FindFieldByName("name") != nullptr &&
             absl::StrContains(in->name(), r->resource->name())) {
    r->remove = m;
  }
}

}  // namespace

absl::StatusOr<ResourceMethods> FindResource(absl::string_view collection) {
  for (const Descriptor* d : ResourceMessages()) {
    if (CollectionOf(d) != collection) continue;
    ResourceMethods r;
    r.resource = d;
    r.collection = CollectionOf(d);
    r.singular = d->options().GetExtension(crm::v1::resource).singular();
    for (const ServiceDescriptor* s : CrmServices()) {
      ResourceMethods candidate = r;
      candidate.service = s;
      for (int i = 0; i < s->method_count(); ++i) {
        Classify(s->method(i), &candidate);
      }
      // Delete alone is matched by name only: not enough to claim a service.
      if (candidate.get || candidate.list || candidate.create ||
          candidate.update) {
        return candidate;
      }
    }
    return r;  // A resource with no service yet: every method is null.
  }
  return absl::NotFoundError(absl::StrCat(
      "unknown collection '", collection,
      "'; known collections: ", absl::StrJoin(Collections(), ", ")));
}

absl::StatusOr<const MethodDescriptor*> FindMethod(
    absl::string_view full_name) {
  absl::string_view name = full_name;
  absl::ConsumePrefix(&name, "/");
  size_t slash = name.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method '", full_name,
        "' must be Service/Method, e.g. crm.v1.AccountService/GetAccount"));
  }
  std::string service_name(name.substr(0, slash));
  std::string method_name(name.substr(slash + 1));
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  const ServiceDescriptor* service = pool->FindServiceByName(service_name);
  if (service == nullptr && service_name.find('.') == std::string::npos) {
    service = pool->FindServiceByName("crm.v1." + service_name);
  }
  if (service == nullptr) {
    std::vector<std::string> known;
    for (const ServiceDescriptor* s : CrmServices()) {
      known.push_back(s->full_name());
    }
    return absl::NotFoundError(
        absl::StrCat("unknown service '", service_name,
                     "'; known services: ", absl::StrJoin(known, ", ")));
  }
  const MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr) {
    std::vector<std::string> known;
    for (int i = 0; i < service->method_count(); ++i) {
      known.push_back(service->method(i)->name());
    }
    return absl::NotFoundError(absl::StrCat(
        "service ", service->full_name(), " has no method '", method_name,
        "'; its methods: ", absl::StrJoin(known, ", ")));
  }
  return method;
}

std::string MethodPath(const MethodDescriptor* method) {
  return absl::StrCat("/", method->service()->full_name(), "/", method->name());
}

}  // namespace crm::client
