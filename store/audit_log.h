// The audit trail's writer (crm/v1/audit_service.proto): how events reach
// the chain (store/audit_store.h), and the background work that keeps it
// verifiable and bounded.
//
// Two ways in:
//   - AppendInTransaction: the events of a write, inside the write's own
//     transaction (the same commit, or neither).
//   - Record: events of calls about to be served (audited reads, logins,
//     logouts), by group commit: the caller's event joins a queue, one
//     background thread appends whatever is queued in one transaction, and
//     Record returns once its event is committed. Under load batches grow
//     by themselves (no timer delays a lone call). While the database is
//     unavailable Record fails at once (the call fails fast like any call
//     needing the database). When the queue is full (max_pending): kWait
//     blocks the caller until there is room and its event is committed, up
//     to its deadline; kRefuse fails at once with UNAVAILABLE. A caller that
//     gives up (deadline) before its event was taken by the writer
//     withdraws it and gets UNAVAILABLE: the call is then refused, so no
//     event was needed; once taken, the caller waits for that transaction's
//     outcome. An event is never dropped for a call that was served.
//   - Enqueue: events of calls refused or failed anyway (refusals, failed
//     logins): queued without waiting for the commit, and kept by the
//     writer until written, through a database outage (a refused call does
//     not wait for the database to come back). Without a spool, lost if the
//     process dies before they are written.
// With a spool (store/audit_spool.h, AuditConfig.spool_dir), Record and
// Enqueue both append the event to the spool before returning and do not
// wait for the commit: the call is answered once its event is on local
// disk, the writer lingers up to spool_linger to gather large batches, and
// each batch's transaction also records how far into the spool the
// database has the events. Events the spool holds from an earlier process
// (killed, or stopped with the database unreachable) are written first,
// skipping those its database already has. A full queue behaves as above
// (kWait waits for room, kRefuse refuses); a spool that cannot be written
// (disk full, no descriptors) refuses the call with UNAVAILABLE.
// Background (the same thread): a checkpoint (the head signed with the
// Ed25519 key) after checkpoint_every events or checkpoint_interval after
// the first unsigned one; retention removes events older than `retention`
// up to the newest checkpoint older than that, which becomes the anchor.
//
// Thread-safety: thread-safe. The destructor writes what is queued (while
// the database lets it), signs a last checkpoint and stops the thread.
#ifndef CRM_STORE_AUDIT_LOG_H_
#define CRM_STORE_AUDIT_LOG_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/signing.h"
#include "crm/v1/audit_service.pb.h"
#include "store/audit_spool.h"
#include "store/database.h"

namespace crm::store {

struct AuditLogOptions {
  enum class WhenBehind { kWait, kRefuse };
  WhenBehind when_behind = WhenBehind::kWait;
  size_t max_pending = 10000;
  int checkpoint_every = 1000;
  absl::Duration checkpoint_interval = absl::Seconds(10);
  // Zero: events are kept forever.
  absl::Duration retention = absl::ZeroDuration();
  absl::Duration prune_interval = absl::Minutes(1);
  // Events appended per transaction, at most.
  int max_batch = 512;
  // With a spool: how long the writer waits for a batch to fill (nobody
  // waits for these commits).
  absl::Duration spool_linger = absl::Milliseconds(50);
};

class AuditLog {
 public:
  // `db` (migrated to 14 or later) must outlive the log; `now` gives event
  // and checkpoint times; `spool` may be null (see the file comment).
  AuditLog(Database* db, audit::Signer signer, AuditLogOptions options,
           std::function<absl::Time()> now,
           std::unique_ptr<AuditSpool> spool = nullptr);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends the events of a write in the caller's transaction (sets their
  // time; see AppendAuditEvents).
  absl::Status AppendInTransaction(Session& session,
                                   std::vector<crm::v1::AuditEvent> events);

  // Group commit (see the file comment), for a call about to be served:
  // returns once the event is committed (with a spool: once it is in the
  // spool). UNAVAILABLE at once while the
  // database is unavailable (the call fails fast, as every call needing the
  // database does), when kRefuse finds the queue full, or when `deadline`
  // passed before the event was taken; the database's status if its
  // transaction failed.
  absl::Status Record(crm::v1::AuditEvent event, absl::Time deadline);

  // For a call that is refused or failed anyway (its answer does not wait
  // on the event): queues the event and returns without waiting for the
  // commit; the writer keeps it until it is written, through a database
  // outage. Waits only for room in a full queue, up to `deadline` (kWait),
  // and then, or at once (kRefuse), fails with UNAVAILABLE: the event is
  // not queued (and logged by the caller).
  absl::Status Enqueue(crm::v1::AuditEvent event, absl::Time deadline);

  // Queues the events the spool holds from an earlier process, ahead of
  // the rest. Call once the database is migrated (the writer needs
  // migration 14); until then spooled events are queued, not written. A
  // no-op without a spool or the second time.
  void ReplaySpool();

  // Signs the current head now if it is newer than the newest checkpoint.
  absl::Status Checkpoint();
  // Retention now, with `cutoff` instead of now - retention. Returns the
  // number of events removed.
  absl::StatusOr<int64_t> Prune(absl::Time cutoff);

  // Blocks until this server commits an event after `after` or `timeout`
  // passes (events from other servers are seen by polling; callers re-read
  // the store either way).
  void WaitForEvents(int64_t after, absl::Duration timeout);

  const audit::Signer& signer() const { return signer_; }

  // For metrics and tests: events queued and not yet taken by the writer,
  // and events taken whose transaction has not finished.
  size_t pending() const;
  size_t in_flight() const;

 private:
  struct Pending {
    crm::v1::AuditEvent event;
    bool detached = false;  // Enqueue, or spooled: nobody waits for it
    SpoolPosition position;  // spooled: where; else file is empty
    bool recovered = false;  // left in the spool by an earlier process
    bool taken = false;
    bool done = false;
    absl::Status status;
  };

  void Run();
  // Waits (kWait, up to `deadline`) for room in the queue; false if there
  // is none. mu_ held.
  bool WaitForRoom(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Record and Enqueue with a spool: appends `event` to it and queues it.
  absl::Status Spool(crm::v1::AuditEvent event, absl::Time deadline);
  // Appends `events` (the batch's, in order) in one transaction, with the
  // spool's progress; recovered events the database has are skipped.
  absl::Status Append(Session& session,
                      const std::vector<std::shared_ptr<Pending>>& batch,
                      std::vector<crm::v1::AuditEvent>* events,
                      int64_t* last);
  // Appends one batch; true if anything was written.
  bool WriteBatch();
  void MaybeCheckpoint();

  Database* const db_;
  const audit::Signer signer_;
  const AuditLogOptions options_;
  const std::function<absl::Time()> now_;

  mutable absl::Mutex mu_;
  absl::CondVar work_;       // the writer: something is queued, or stop
  absl::CondVar progress_;   // callers: a batch finished, or room freed
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int64_t last_committed_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Events appended since the last checkpoint, and when the first was.
  int64_t unsigned_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time first_unsigned_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time next_prune_ ABSL_GUARDED_BY(mu_);
  const std::unique_ptr<AuditSpool> spool_;  // guarded by mu_ when set
  bool replayed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace crm::store

#endif  // CRM_STORE_AUDIT_LOG_H_
