// The candidate policies a bundle makes (crm/v1/admin_service.proto,
// "Policy as files"): the checked bundle, and the live policy it would
// become. Shared by PlanPolicy, ApplyPolicy (policy_bundle_service.cc) and
// the shadow policy (shadow_policy.h), so all three read a bundle alike.
#ifndef CRM_SERVER_POLICY_TARGET_H_
#define CRM_SERVER_POLICY_TARGET_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/v1/admin_service.pb.h"
#include "policy/bundle.h"
#include "store/identity_store.h"

namespace crm::server {

struct ServerCore;

inline constexpr size_t kMaxBundleFiles = 20000;

// The request's files, validated as `crmctl policy validate` does (with the
// server's registered services): INVALID_ARGUMENT listing every problem,
// each as a BadRequest violation whose field is where it is
// ("roles/vp.textproto:3:9 parent").
absl::StatusOr<policy::PolicyBundle> CheckedBundle(
    const crm::v1::PolicyBundleFiles& in, const ServerCore& core);

// What a bundle would make of the live policy.
struct Target {
  policy::PolicyBundle live;    // the live policy as a bundle
  policy::PolicyBundle bundle;  // the policy after the change
  // `bundle` with the live users and the live version, to compile.
  crm::internal::PolicyState state;
  std::map<std::string, store::ProfileRow> profile_rows;  // by name
};

// The live objects the bundle leaves out are kept unless `prune`.
absl::StatusOr<Target> MakeTarget(const crm::internal::PolicyState& live_state,
                                  const policy::PolicyBundle& bundle,
                                  bool prune);

// The object-level diff of two policies (bundle contents only), as the
// audit trail records policy changes.
void AddChanges(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after,
    google::protobuf::RepeatedPtrField<crm::v1::PolicyObjectChange>* out);

}  // namespace crm::server

#endif  // CRM_SERVER_POLICY_TARGET_H_
