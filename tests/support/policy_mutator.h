// Random edits of a policy (crm.internal.PolicyState) for the property tests
// that check a plan against what really changes: policy/plan_impact_test.cc
// (the plan's report against point decisions) and
// records/plan_differential_test.cc (the plan's record counts against the
// database). Each test draws its own mix of mutations (its Mutate()) from
// the shared ones here; the draws are deterministic for a seed.
//
// Some mutations make a policy that does not compile (a role cycle, a rule
// on an object controlled by its parent): the caller draws again.
#ifndef CRM_TESTS_SUPPORT_POLICY_MUTATOR_H_
#define CRM_TESTS_SUPPORT_POLICY_MUTATOR_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "crm/internal/policy_state.pb.h"
#include "crm/v1/policy.pb.h"

namespace crm::testing {

class PolicyMutatorBase {
 public:
  virtual ~PolicyMutatorBase() = default;

  // One random mutation; returns what it did (for failure messages).
  virtual std::string Mutate() = 0;

 protected:
  // `next_name` numbers the names of added rules ("sharingRules/m7"), so
  // they stay unique across mutators of one run; null: this mutator's own.
  PolicyMutatorBase(uint64_t seed, crm::internal::PolicyState* state,
                    int* next_name = nullptr)
      : rng_(seed), s_(*state), next_(next_name ? *next_name : own_next_) {}

  // The test's own way of adding a sharing rule (the fallback of the
  // mutations that need one to exist).
  virtual std::string AddSharingRule() = 0;

  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(static_cast<int>(v.size()))];
  }
  // "{prefix}m{n}" with a fresh n.
  std::string NewName(const char* prefix);

  std::string RandomUser();  // "users/{id}"
  std::string RandomRole();  // "roles/{id}"
  // A user, role, role and subordinates, or group (a user when there are
  // no groups).
  crm::v1::Grantee RandomGrantee();

  // Removes a random sharing rule (adds one when there is none).
  std::string RemoveSharingRule();
  // Adds a random member to a group or removes one (adds a sharing rule
  // when there are no groups).
  std::string ChangeGroup();
  // A random non-root role under a random new parent; "" (nothing done,
  // one draw made) when the role drawn is a root.
  std::string MoveRoleOrNothing();
  // Flips one of the six flags of `p`; returns the permission as text.
  std::string FlipObjectPermission(crm::v1::ObjectPermission* p);
  // A random org-wide default: its hierarchy flag (with this chance) or a
  // new access level (CONTROLLED_BY_PARENT only off accounts).
  std::string ChangeDefault(double hierarchy_chance);

  std::mt19937_64 rng_;
  crm::internal::PolicyState& s_;

 private:
  int own_next_ = 0;
  int& next_;
};

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_POLICY_MUTATOR_H_
