// Who is acting: always a registered service (its mTLS identity), and
// optionally a user on whose behalf the service acts.
#ifndef CRM_POLICY_PRINCIPAL_H_
#define CRM_POLICY_PRINCIPAL_H_

#include <string>

#include "absl/strings/str_cat.h"

namespace crm::policy {

struct Principal {
  std::string service;  // registered service name, never empty
  std::string user_id;  // empty: the service acts as itself

  bool acting_for_user() const { return !user_id.empty(); }
  // The owner/source resource name: "users/{id}" or "services/{name}".
  std::string ResourceName() const {
    return acting_for_user() ? absl::StrCat("users/", user_id)
                             : absl::StrCat("services/", service);
  }
};

// What is being done to an object or record. The object permission and the
// record access level each operation needs are listed in
// proto/crm/v1/policy.proto ("Who may do what to a record").
enum class Operation { kRead, kCreate, kEdit, kDelete, kShare, kTransfer };

// "read", "create", "edit", "delete", "share", "transfer".
const char* OperationName(Operation op);

}  // namespace crm::policy

#endif  // CRM_POLICY_PRINCIPAL_H_
