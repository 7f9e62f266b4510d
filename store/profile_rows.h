// Reading the profiles table, shared by the two stores that need it:
// IdentityStore (admin reads, sessions) and PolicyStore (the policy load).
// store/-internal: only store/*.cc include it.
#ifndef CRM_STORE_PROFILE_ROWS_H_
#define CRM_STORE_PROFILE_ROWS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "store/database.h"
#include "store/identity_store.h"

namespace crm::store {

// Every profile, ordered by id, inside `session`'s transaction.
absl::StatusOr<std::vector<ProfileRow>> ReadAllProfiles(Session& session);

}  // namespace crm::store

#endif  // CRM_STORE_PROFILE_ROWS_H_
