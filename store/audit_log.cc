#include "store/audit_log.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "audit/chain.h"
#include "base/log.h"
#include "store/audit_store.h"

namespace crm::store {
namespace {

// Per spool file in the batch (in order of first appearance), the end of
// its last event there.
template <typename Batch>
std::vector<std::pair<std::string, int64_t>> SpoolEnds(const Batch& batch) {
  std::vector<std::pair<std::string, int64_t>> ends;
  for (const auto& p : batch) {
    const SpoolPosition& at = p->position;
    if (at.file.empty()) continue;
    if (ends.empty() || ends.back().first != at.file) {
      ends.emplace_back(at.file, at.end);
    } else {
      ends.back().second = std::max(ends.back().second, at.end);
    }
  }
  return ends;
}

}  // namespace

AuditLog::AuditLog(Database* db, audit::Signer signer, AuditLogOptions options,
                   std::function<absl::Time()> now,
                   std::unique_ptr<AuditSpool> spool)
    : db_(db),
      signer_(std::move(signer)),
      options_(options),
      now_(std::move(now)),
      next_prune_(absl::Now()),
      spool_(std::move(spool)) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "audit-writer");  // for top -H, perf
    Run();
  });
}

AuditLog::~AuditLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    work_.Signal();
  }
  thread_.join();
}

void AuditLog::ReplaySpool() {
  if (spool_ == nullptr) return;
  absl::MutexLock lock(&mu_);
  replayed_ = true;
  work_.Signal();
  std::vector<SpooledEvent> left = spool_->TakeRecovered();
  if (left.empty()) return;
  // Before anything queued since: in the earlier process's order (the
  // queue may go over max_pending: callers then wait for room).
  for (auto it = left.rbegin(); it != left.rend(); ++it) {
    auto pending = std::make_shared<Pending>();
    pending->event = std::move(it->event);
    pending->position = std::move(it->position);
    pending->detached = true;
    pending->recovered = true;
    queue_.push_front(std::move(pending));
  }
  work_.Signal();
}

size_t AuditLog::pending() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

size_t AuditLog::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

absl::Status AuditLog::AppendInTransaction(
    Session& session, std::vector<crm::v1::AuditEvent> events) {
  if (events.empty()) return absl::OkStatus();
  const auto time = audit::TimeFromMicros(absl::ToUnixMicros(now_()));
  for (crm::v1::AuditEvent& e : events) *e.mutable_time() = time;
  absl::Status s = AppendAuditEvents(session, &events);
  if (s.ok()) {
    // A hint for the checkpoint timer; the transaction may still roll back.
    absl::MutexLock lock(&mu_);
    if (unsigned_ == 0) first_unsigned_ = absl::Now();
    unsigned_ += static_cast<int64_t>(events.size());
  }
  return s;
}

bool AuditLog::WaitForRoom(absl::Time deadline) {
  while (queue_.size() >= options_.max_pending) {
    if (options_.when_behind == AuditLogOptions::WhenBehind::kRefuse ||
        (progress_.WaitWithDeadline(&mu_, deadline) &&
         queue_.size() >= options_.max_pending)) {
      return false;
    }
  }
  return true;
}

absl::Status AuditLog::Spool(crm::v1::AuditEvent event, absl::Time deadline) {
  *event.mutable_time() = audit::TimeFromMicros(absl::ToUnixMicros(now_()));
  auto pending = std::make_shared<Pending>();
  pending->detached = true;
  absl::MutexLock lock(&mu_);
  if (!WaitForRoom(deadline)) {
    return absl::UnavailableError(
        "the audit trail is behind (too many events waiting to be "
        "written); retry");
  }
  auto position = spool_->Append(event);
  if (!position.ok()) return position.status();
  pending->event = std::move(event);
  pending->position = *std::move(position);
  queue_.push_back(std::move(pending));
  // The writer is idle (first event) or lingering for a full batch.
  if (queue_.size() == 1 ||
      queue_.size() >= static_cast<size_t>(options_.max_batch)) {
    work_.Signal();
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Enqueue(crm::v1::AuditEvent event,
                               absl::Time deadline) {
  if (spool_ != nullptr) return Spool(std::move(event), deadline);
  *event.mutable_time() = audit::TimeFromMicros(absl::ToUnixMicros(now_()));
  auto pending = std::make_shared<Pending>();
  pending->event = std::move(event);
  pending->detached = true;
  absl::MutexLock lock(&mu_);
  if (!WaitForRoom(deadline)) {
    return absl::UnavailableError(
        "the audit trail is behind (too many events waiting to be written)");
  }
  queue_.push_back(std::move(pending));
  work_.Signal();
  return absl::OkStatus();
}

absl::Status AuditLog::Record(crm::v1::AuditEvent event, absl::Time deadline) {
  if (!db_->available()) {
    return absl::UnavailableError(
        "the CRM database is unavailable, so this call cannot be audited; "
        "retry later");
  }
  if (spool_ != nullptr) return Spool(std::move(event), deadline);
  *event.mutable_time() = audit::TimeFromMicros(absl::ToUnixMicros(now_()));
  auto pending = std::make_shared<Pending>();
  pending->event = std::move(event);
  absl::MutexLock lock(&mu_);
  if (!WaitForRoom(deadline)) {
    return absl::UnavailableError(
        "the audit trail is behind (too many events waiting to be "
        "written); retry");
  }
  queue_.push_back(pending);
  work_.Signal();
  bool deadline_passed = false;
  while (!pending->done) {
    if (deadline_passed) {
      // Taken by the writer: its transaction decides; wait for it.
      progress_.Wait(&mu_);
      continue;
    }
    if (progress_.WaitWithDeadline(&mu_, deadline) && !pending->done) {
      deadline_passed = true;
      if (!pending->taken) {
        // The writer has not taken it: withdraw it; the call is refused.
        auto it = std::find(queue_.begin(), queue_.end(), pending);
        if (it != queue_.end()) queue_.erase(it);
        progress_.SignalAll();
        return absl::UnavailableError(
            "the audit trail could not record this call in time (database "
            "slow or unavailable); nothing was done, retry");
      }
    }
  }
  return pending->status;
}

bool AuditLog::WriteBatch() {
  std::vector<std::shared_ptr<Pending>> batch;
  {
    absl::MutexLock lock(&mu_);
    // Spooled events wait for ReplaySpool (the database is migrated).
    while (!queue_.empty() && (spool_ == nullptr || replayed_) &&
           batch.size() < static_cast<size_t>(options_.max_batch)) {
      queue_.front()->taken = true;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    in_flight_ = batch.size();
    progress_.SignalAll();  // room in the queue
  }
  if (batch.empty()) return false;
  // Moved out once: a retry appends the same events again (AppendAuditEvents
  // sets every field it derives).
  std::vector<crm::v1::AuditEvent> events;
  events.reserve(batch.size());
  for (const auto& p : batch) events.push_back(std::move(p->event));
  int64_t last = 0;
  absl::Status s;
  // Until written or the thread is told to stop with the database gone:
  // an event that was taken is never dropped while its caller waits.
  for (int attempt = 0;; ++attempt) {
    s = db_->InTransaction([&](Session& session) {
      return Append(session, batch, &events, &last);
    });
    if (s.ok() || !absl::IsUnavailable(s)) break;
    absl::MutexLock lock(&mu_);
    // Through an outage for as long as it lasts; at shutdown a few more
    // attempts, then what is left is logged as lost (the process is going
    // away with the database unreachable) - or, with a spool, left there
    // for the next start.
    if (stop_ && attempt >= 3) break;
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(
                                                      std::min(1000, 50 << std::min(attempt, 4))));
  }
  if (!s.ok()) {
    // With a spool, events of a batch the database refused for being
    // unavailable are still there for the next start.
    const bool kept = spool_ != nullptr && absl::IsUnavailable(s);
    base::Log(kept ? base::LogLevel::kWarning : base::LogLevel::kError,
              kept ? "audit.write_deferred" : "audit.write_failed",
              {{"events", absl::StrCat(batch.size())},
               {"error", std::string(s.message())}});
  }
  absl::ReleasableMutexLock lock(&mu_);
  in_flight_ = 0;
  for (const auto& p : batch) {
    p->done = true;
    p->status = s;
  }
  std::vector<std::string> removed;
  if (s.ok()) {
    last_committed_ = std::max(last_committed_, last);
    if (unsigned_ == 0) first_unsigned_ = absl::Now();
    unsigned_ += static_cast<int64_t>(batch.size());
    if (spool_ != nullptr) {
      for (const auto& [file, end] : SpoolEnds(batch)) {
        for (std::string& f : spool_->Committed(file, end)) {
          removed.push_back(std::move(f));
        }
      }
    }
  }
  progress_.SignalAll();
  lock.Release();
  if (!removed.empty()) {
    // The files are gone; their rows are garbage either way.
    absl::Status forgotten = db_->InTransaction([&](Session& session) {
      for (const std::string& f : removed) {
        if (absl::Status d = DeleteSpoolProgress(session, f); !d.ok()) {
          return d;
        }
      }
      return absl::OkStatus();
    });
    if (!forgotten.ok()) {
      base::Log(base::LogLevel::kWarning, "audit.spool_progress_not_removed",
                {{"error", std::string(forgotten.message())}});
    }
  }
  return true;
}

absl::Status AuditLog::Append(
    Session& session, const std::vector<std::shared_ptr<Pending>>& batch,
    std::vector<crm::v1::AuditEvent>* events, int64_t* last) {
  const auto ends = SpoolEnds(batch);
  std::vector<crm::v1::AuditEvent> kept;
  std::vector<crm::v1::AuditEvent>* append = events;
  if (std::any_of(batch.begin(), batch.end(),
                  [](const auto& p) { return p->recovered; })) {
    // A replay: the database may have some of these already (the process
    // died between a commit and removing the file).
    absl::flat_hash_map<std::string, int64_t> have;
    for (const auto& [file, end] : ends) {
      auto committed = SpoolProgress(session, file);
      if (!committed.ok()) return committed.status();
      have[file] = *committed;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const SpoolPosition& at = batch[i]->position;
      if (batch[i]->recovered && at.end <= have[at.file]) continue;
      kept.push_back((*events)[i]);
    }
    append = &kept;
  }
  if (!append->empty()) {
    if (absl::Status a = AppendAuditEvents(session, append); !a.ok()) return a;
    *last = append->back().sequence();
  }
  for (const auto& [file, end] : ends) {
    if (absl::Status a = SetSpoolProgress(session, file, end); !a.ok()) {
      return a;
    }
  }
  return absl::OkStatus();
}

absl::Status AuditLog::Checkpoint() {
  return db_->InTransaction([&](Session& session) -> absl::Status {
    auto head = ReadAuditHead(session);
    if (!head.ok()) return head.status();
    if (head->sequence == 0) return absl::OkStatus();
    auto latest = LatestAuditCheckpoint(session);
    if (!latest.ok()) return latest.status();
    if (latest->has_value() && (*latest)->sequence() >= head->sequence) {
      return absl::OkStatus();
    }
    crm::v1::AuditCheckpoint c;
    c.set_sequence(head->sequence);
    c.set_hash(head->hash);
    *c.mutable_time() = audit::TimeFromMicros(absl::ToUnixMicros(now_()));
    c.set_key_id(signer_.public_key().key_id());
    c.set_signature(signer_.Sign(audit::CheckpointMessage(c)));
    return InsertAuditCheckpoint(session, c);
  });
}

absl::StatusOr<int64_t> AuditLog::Prune(absl::Time cutoff) {
  int64_t removed = 0;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    removed = 0;
    auto anchor = PrunableCheckpoint(session, absl::ToUnixMicros(cutoff));
    if (!anchor.ok()) return anchor.status();
    if (!anchor->has_value()) return absl::OkStatus();
    auto head = ReadAuditHead(session);
    if (!head.ok()) return head.status();
    if (head->anchor.has_value() &&
        head->anchor->sequence() >= (*anchor)->sequence()) {
      return absl::OkStatus();
    }
    auto n = PruneAuditEvents(session, **anchor);
    if (!n.ok()) return n.status();
    removed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (removed > 0) {
    base::Log(base::LogLevel::kInfo, "audit.pruned",
              {{"events", absl::StrCat(removed)}});
  }
  return removed;
}

void AuditLog::MaybeCheckpoint() {
  bool due = false;
  {
    absl::MutexLock lock(&mu_);
    due = unsigned_ > 0 &&
          (unsigned_ >= options_.checkpoint_every ||
           absl::Now() - first_unsigned_ >= options_.checkpoint_interval ||
           stop_);
  }
  if (!due) return;
  absl::Status s = Checkpoint();
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    unsigned_ = 0;
    first_unsigned_ = absl::InfiniteFuture();
  } else {
    base::Log(base::LogLevel::kWarning, "audit.checkpoint_failed",
              {{"error", std::string(s.message())}});
  }
}

void AuditLog::WaitForEvents(int64_t after, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto newer = [this, after]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return last_committed_ > after || stop_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&newer), timeout);
}

void AuditLog::Run() {
  for (;;) {
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty() && !stop_) {
        absl::Duration wait = absl::Milliseconds(500);
        if (unsigned_ > 0) {
          wait = std::min(wait, std::max(absl::ZeroDuration(),
                                         first_unsigned_ +
                                             options_.checkpoint_interval -
                                             absl::Now()));
        }
        work_.WaitWithTimeout(&mu_, wait);
      }
      // Spooled events not yet replayable stay in the spool for the next
      // start.
      stopping = stop_ && (queue_.empty() || (spool_ != nullptr && !replayed_));
      if (spool_ != nullptr && !queue_.empty()) {
        // Nobody waits for a spooled event's commit: gather a batch.
        const absl::Time until = absl::Now() + options_.spool_linger;
        while (queue_.size() < static_cast<size_t>(options_.max_batch) &&
               !stop_ && !work_.WaitWithDeadline(&mu_, until)) {
        }
      }
    }
    while (WriteBatch()) {
    }
    MaybeCheckpoint();
    if (stopping) break;
    if (options_.retention > absl::ZeroDuration()) {
      bool prune = false;
      {
        absl::MutexLock lock(&mu_);
        if (absl::Now() >= next_prune_) {
          next_prune_ = absl::Now() + options_.prune_interval;
          prune = true;
        }
      }
      if (prune) {
        auto removed = Prune(now_() - options_.retention);
        if (!removed.ok()) {
          base::Log(base::LogLevel::kWarning, "audit.prune_failed",
                    {{"error", std::string(removed.status().message())}});
        }
      }
    }
  }
}

}  // namespace crm::store
