// Injectable time source, so that expiry, lockout and login-hour rules can be
// tested with a fixed or stepped clock.
#ifndef CRM_AUTH_CLOCK_H_
#define CRM_AUTH_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::auth {

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The process-wide wall clock (absl::Now()). Never null, never deleted.
Clock* SystemClock();

// A clock for tests: starts at `start` and only moves when told.
// Thread-safe: Set/Advance may race with Now from other threads.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::auth

#endif  // CRM_AUTH_CLOCK_H_
