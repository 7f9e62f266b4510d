// Random organisations for the policy engine's differential test and
// benchmarks: a role tree, users with roles and profiles, permission sets,
// nested groups, org-wide defaults (contacts possibly controlled by their
// account), owner- and criteria-based sharing rules, restriction rules,
// accounts and contacts with owners and field values, and manual shares.
// The same seed and size always give the same organisation.
//
// Criteria are kept in structured form too (GeneratedOrg::criteria) so a
// reference model can evaluate them without the filter language.
#ifndef CRM_TESTS_SUPPORT_POLICY_ORG_GENERATOR_H_
#define CRM_TESTS_SUPPORT_POLICY_ORG_GENERATOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "model/record.h"

namespace crm::testing {

struct OrgSize {
  int users = 60;
  int role_levels = 4;  // depth of the role tree (1 = a single root)
  int role_fanout = 2;  // children per role
  int groups = 8;
  int sharing_rules = 6;
  int restriction_rules = 2;
  int accounts = 150;
  int contacts = 100;
  int shares = 120;
  // Accounts always PRIVATE with access through the role hierarchy instead
  // of a random org-wide default (the List benchmark's organisation; the
  // random draws are made either way, so other sizes are unchanged).
  bool private_accounts = false;
};

// The CI size of the differential test (60 users x 250 records).
OrgSize SmallOrgSize();
// The benchmark organisation of issue 4 (10,000 users, 8-level roles, 300
// nested groups, 50 sharing rules), without records.
OrgSize BenchOrgSize();
// BenchOrgSize() with PRIVATE accounts and the role hierarchy: the
// organisation of bench/list_bench.cc, whose records are bulk-loaded into
// PostgreSQL by the benchmark itself.
OrgSize ListBenchOrgSize();
// Scales the CI size: users * factor, records * factor.
OrgSize ScaledOrgSize(double factor);

// One comparison of a generated criterion; criteria are conjunctions.
struct GeneratedComparison {
  std::string field;  // "industry", "billing_country", "employee_count", ...
  std::string op;     // "=", "!=", ">", "<="
  std::string text;   // string value (string fields)
  int64_t number = 0;  // employee_count
};

struct GeneratedShare {
  std::string id;
  std::string object;     // "accounts" or "contacts"
  std::string record_id;  // bare id
  std::string grantee;    // grantee key
  int64_t access = 1;     // 1 READ, 2 READ_WRITE
};

struct GeneratedOrg {
  uint64_t seed = 0;
  crm::internal::PolicyState state;
  // One service, "app", with every object permission on every object.
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  std::vector<model::Record> accounts;
  std::vector<model::Record> contacts;
  std::vector<GeneratedShare> shares;
  // Rule name ("sharingRules/..", "restrictionRules/..") -> its criterion.
  std::map<std::string, std::vector<GeneratedComparison>> criteria;
  // A user with no role, no group, no permission set and no profile.
  std::string canary_user;
};

GeneratedOrg GenerateOrg(uint64_t seed, const OrgSize& size);

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_POLICY_ORG_GENERATOR_H_
