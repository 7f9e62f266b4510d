// Builders for policy objects the integration tests create often.
#ifndef CRM_TESTS_HARNESS_POLICY_OBJECTS_H_
#define CRM_TESTS_HARNESS_POLICY_OBJECTS_H_

#include <string>

#include "crm/v1/admin_service.pb.h"

namespace crm::testing {

// The org-wide default of `object`: private, with access granted using
// hierarchies (a manager sees what is owned below them).
inline crm::v1::PolicyObject PrivateWithHierarchy(const std::string& object) {
  crm::v1::PolicyObject owd;
  owd.mutable_org_wide_default()->set_object(object);
  owd.mutable_org_wide_default()->set_internal_access(
      crm::v1::OrgWideDefault::PRIVATE);
  owd.mutable_org_wide_default()->set_grant_access_using_hierarchies(true);
  return owd;
}

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_POLICY_OBJECTS_H_
