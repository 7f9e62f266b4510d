// Scheduled retention runs (crm/v1/privacy_service.proto "Retention"): one
// thread that runs records::RunRetention every
// privacy.retention_interval_seconds (the first run one interval after
// start). A run another server holds the lock for is skipped (logged); a
// failed run is logged and retried at the next interval. Runs are recorded
// and audited by records/privacy.h.
//
// Thread-safety: Start and Stop from one thread; Stop waits for a run in
// progress to stop at its next batch boundary.
#ifndef CRM_SERVER_RETENTION_SCHEDULER_H_
#define CRM_SERVER_RETENTION_SCHEDULER_H_

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "server/server_core.h"

namespace crm::server {

class RetentionScheduler {
 public:
  // Starts the thread, or nothing when the interval is 0 or there is no
  // rule. `core` must outlive the scheduler (or Stop).
  static std::unique_ptr<RetentionScheduler> Start(const ServerCore* core);
  ~RetentionScheduler();

  void Stop();

 private:
  explicit RetentionScheduler(const ServerCore* core) : core_(core) {}
  void Loop();

  const ServerCore* core_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_RETENTION_SCHEDULER_H_
