#include "policy/snapshot.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crm::policy {

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kRead:
      return "read";
    case Operation::kCreate:
      return "create";
    case Operation::kEdit:
      return "edit";
    case Operation::kDelete:
      return "delete";
  }
  return "unknown";
}

bool ObjectPermissions::Allows(Operation op) const {
  switch (op) {
    case Operation::kRead:
      return read;
    case Operation::kCreate:
      return create;
    case Operation::kEdit:
      return edit;
    case Operation::kDelete:
      return remove;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Build(
    const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>&
        services,
    const model::SchemaRegistry& schemas) {
  auto snapshot = std::shared_ptr<PolicySnapshot>(new PolicySnapshot());
  for (const auto& service : services) {
    auto& objects = snapshot->services_[service.name()];
    for (const auto& grant : service.grants()) {
      std::vector<const model::ObjectSchema*> targets;
      if (grant.object() == "*") {
        targets = schemas.All();
      } else if (const auto* schema = schemas.Find(grant.object())) {
        targets.push_back(schema);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "service '", service.name(), "': grant names unknown object '",
            grant.object(), "'"));
      }
      for (const auto* schema : targets) {
        ObjectPermissions& p = objects[schema->collection()];
        p.read |= grant.read() || grant.edit() || grant.delete_();
        p.create |= grant.create();
        p.edit |= grant.edit();
        p.remove |= grant.delete_();
      }
    }
  }
  return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
}

ObjectPermissions PolicySnapshot::ServicePermissions(
    const std::string& service, const std::string& collection) const {
  auto s = services_.find(service);
  if (s == services_.end()) return {};
  auto o = s->second.find(collection);
  return o == s->second.end() ? ObjectPermissions{} : o->second;
}

}  // namespace crm::policy
