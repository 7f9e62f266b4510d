// Holds the current compiled policy and swaps it atomically. Readers take a
// shared_ptr copy (no lock is held while evaluating); a writer replaces the
// whole snapshot, so a request sees either the old policy or the new one,
// never a mix.
#ifndef CRM_POLICY_POLICY_HOLDER_H_
#define CRM_POLICY_POLICY_HOLDER_H_

#include <atomic>
#include <memory>

#include "policy/snapshot.h"

namespace crm::policy {

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const PolicySnapshot> initial)
      : current_(std::move(initial)) {}

  std::shared_ptr<const PolicySnapshot> Current() const {
    return std::atomic_load(&current_);
  }
  void Replace(std::shared_ptr<const PolicySnapshot> next) {
    std::atomic_store(&current_, std::move(next));
  }

 private:
  std::shared_ptr<const PolicySnapshot> current_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_POLICY_HOLDER_H_
