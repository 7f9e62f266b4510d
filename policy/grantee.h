// Grantee keys: the strings stored in record_shares.grantee (and shown in
// decisions, e.g. "share:groups/emea"). One key per Grantee:
//   user                   "users/{id}"
//   role                   "roles/{id}"
//   role_and_subordinates  "roleAndSubordinates/{id}"  (a share to it reaches
//                          users whose role is {id} or any role below it)
//   group                  "groups/{id}"
#ifndef CRM_POLICY_GRANTEE_H_
#define CRM_POLICY_GRANTEE_H_

#include <string>

#include "absl/status/statusor.h"
#include "crm/v1/policy.pb.h"

namespace crm::policy {

// The key of `grantee`. INVALID_ARGUMENT if no kind is set or the name does
// not have the expected "users/..", "roles/.." or "groups/.." form.
absl::StatusOr<std::string> GranteeKey(const crm::v1::Grantee& grantee);

// The inverse of GranteeKey. INVALID_ARGUMENT for anything else.
absl::StatusOr<crm::v1::Grantee> GranteeFromKey(absl::string_view key);

}  // namespace crm::policy

#endif  // CRM_POLICY_GRANTEE_H_
