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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "login/login_restrictions.h"
#include "model/object_schema.h"
#include "policy/compiled.h"
#include "policy/principal.h"

namespace crm::policy {

// One problem found while compiling a PolicyState.
struct PolicyProblem {
  // The object it belongs to: "roles/vp", "orgWideDefaults/accounts",
  // "profiles/x", "users/u1", "services/billing" (as the state names it).
  std::string object;
  // The field of that object, as a path: "parent", "members[2]",
  // "object_permissions[0].object", "criteria"; "" for the whole object. A
  // profile's login restrictions are one problem with field "" whose status
  // carries a google.rpc.BadRequest with one violation per bad entry
  // ("allowed_ip_ranges[1]", "login_hours", ...).
  std::string field;
  // INVALID_ARGUMENT with the compiler's message ("policy: role 'roles/a':
  // unknown parent 'roles/x'"), exactly what Build returns for it.
  absl::Status status;
};

class PolicySnapshot {
 public:
  using Services =
      google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>;

  // Validates and compiles `state`. Fails with INVALID_ARGUMENT naming the
  // offending entry for: unknown objects or fields, references to unknown
  // users, roles, groups or services, duplicate names, role or group cycles,
  // malformed grantees or criteria, CONTROLLED_BY_PARENT on an object
  // without an "account" reference, sharing rules on a controlled-by-parent
  // object, a sharing rule without an access level, and a profile whose
  // login restrictions do not compile ("policy: profiles/x: login
  // restrictions of profile 'X': allowed_countries[0]: ...", with a
  // google.rpc.BadRequest listing every problem of that profile), and a
  // data source of an illegitimate kind (refused by name, saying why), of
  // no kind, of an unregistered service, or naming an unknown object or
  // field.
  //
  // Build returns the first problem Check finds.
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Build(
      const crm::internal::PolicyState& state, const Services& services,
      const model::SchemaRegistry& schemas);

  // Every problem Build would refuse `state` for, in the order Build meets
  // them (empty: Build succeeds). Each entry that has a problem is left out
  // and compilation goes on, so one call reports them all (for
  // `crmctl policy validate`, policy/bundle.h); a problem that only shows
  // once another is fixed (e.g. criteria of a rule whose object is unknown)
  // is not reported.
  static std::vector<PolicyProblem> Check(
      const crm::internal::PolicyState& state, const Services& services,
      const model::SchemaRegistry& schemas);

  // The services' grants only (an empty PolicyState).
  static absl::StatusOr<std::shared_ptr<const PolicySnapshot>> Build(
      const Services& services, const model::SchemaRegistry& schemas);

  int64_t version() const { return policy_.version; }

  // The service's own permissions on `collection` (all false if none).
  ObjectPermissions ServicePermissions(const std::string& service,
                                       const std::string& collection) const;

  // The login restrictions of profile `profile_id` ("sales", the id) as
  // compiled for this version, or null if the snapshot has no such profile
  // (a profile created after it was built; callers refuse: fail closed).
  const login::LoginRestrictions* ProfileRestrictions(
      absl::string_view profile_id) const;

  // The compiled data (for the Evaluator, tests and benchmarks).
  const CompiledPolicy& compiled() const { return policy_; }

 private:
  PolicySnapshot() = default;

  CompiledPolicy policy_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_SNAPSHOT_H_
