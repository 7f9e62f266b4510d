// An immutable, compiled access policy. Built once from the stored policy
// (and the server's registered services), then shared read-only by every
// request: evaluation does no I/O and takes no locks.
//
// How grants combine (the single statement of the rules):
//   - Nothing is granted by default.
//   - A service's object grants (ServiceConfig.grants) are its scope: a
//     service acting as itself may do exactly what they allow, on every
//     record of that object (integration users are not subject to sharing).
//   - A service acting for a user is limited to the intersection of the
//     user's access and the service's scope (the user side arrives with the
//     access-policy issue; until then, acting for a user is denied).
//   - Sensitive fields (FieldBehavior.sensitive) are never readable or
//     writable without an explicit field grant; no grant of that kind exists
//     yet, so they are hidden from everyone.
#ifndef CRM_POLICY_SNAPSHOT_H_
#define CRM_POLICY_SNAPSHOT_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "model/object_schema.h"
#include "policy/principal.h"

namespace crm::policy {

struct ObjectPermissions {
  bool read = false;
  bool create = false;
  bool edit = false;
  bool remove = false;

  bool Allows(Operation op) const;
};

class PolicySnapshot {
 public:
  // Compiles the registered services' grants. Fails with INVALID_ARGUMENT
  // naming the service and object if a grant names an unknown object.
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Build(
      const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>&
          services,
      const model::SchemaRegistry& schemas);

  // The service's permissions on `collection` (all false if none).
  ObjectPermissions ServicePermissions(const std::string& service,
                                       const std::string& collection) const;

 private:
  // service -> collection -> permissions ("*" expanded at build time).
  std::map<std::string, std::map<std::string, ObjectPermissions>> services_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_SNAPSHOT_H_
