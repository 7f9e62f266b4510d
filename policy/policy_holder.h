// Holds the current compiled policy and swaps it atomically. Readers take a
// shared_ptr copy (no lock is held while evaluating); a writer replaces the
// whole snapshot, so a request sees either the old policy or the new one,
// never a mix.
#ifndef CRM_POLICY_POLICY_HOLDER_H_
#define CRM_POLICY_POLICY_HOLDER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "policy/snapshot.h"

namespace crm::policy {

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const PolicySnapshot> initial)
      : current_(std::move(initial)), installed_at_(NowMicros()) {}

  std::shared_ptr<const PolicySnapshot> Current() const {
    return std::atomic_load(&current_);
  }
  void Replace(std::shared_ptr<const PolicySnapshot> next) {
    std::atomic_store(&current_, std::move(next));
    installed_at_.store(NowMicros(), std::memory_order_relaxed);
  }
  // When the current snapshot was installed (steady clock, microseconds):
  // its age is what the metrics report.
  int64_t installed_at_micros() const {
    return installed_at_.load(std::memory_order_relaxed);
  }
  static int64_t NowMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  std::shared_ptr<const PolicySnapshot> current_;
  std::atomic<int64_t> installed_at_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_POLICY_HOLDER_H_
