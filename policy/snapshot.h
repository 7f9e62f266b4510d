// An immutable, compiled access policy. Built once from the stored policy
// (crm.internal.PolicyState) and the server's registered services, then
// shared read-only by every request: evaluation does no I/O and takes no
// locks. How grants combine is specified in proto/crm/v1/policy.proto; the
// compiled data structures are described in policy/README.md.
//
// Thread-safety: immutable after Build; share the shared_ptr freely.
#ifndef CRM_POLICY_SNAPSHOT_H_
#define CRM_POLICY_SNAPSHOT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "model/object_schema.h"
#include "policy/compiled.h"
#include "policy/principal.h"

namespace crm::policy {

class PolicySnapshot {
 public:
  using Services =
      google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>;

  // Validates and compiles `state`. Fails with INVALID_ARGUMENT naming the
  // offending entry for: unknown objects or fields, references to unknown
  // users, roles, groups or services, duplicate names, role or group cycles,
  // malformed grantees or criteria, CONTROLLED_BY_PARENT on an object
  // without an "account" reference, sharing rules on a controlled-by-parent
  // object, and a sharing rule without an access level.
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Build(
      const crm::internal::PolicyState& state, const Services& services,
      const model::SchemaRegistry& schemas);

  // The services' grants only (an empty PolicyState).
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Build(
      const Services& services, const model::SchemaRegistry& schemas);

  int64_t version() const { return policy_.version; }

  // The service's own permissions on `collection` (all false if none).
  ObjectPermissions ServicePermissions(const std::string& service,
                                       const std::string& collection) const;

  // The compiled data (for the Evaluator, tests and benchmarks).
  const CompiledPolicy& compiled() const { return policy_; }

 private:
  PolicySnapshot() = default;

  CompiledPolicy policy_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_SNAPSHOT_H_
