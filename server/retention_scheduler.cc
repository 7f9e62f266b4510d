#include "server/retention_scheduler.h"

#include "absl/strings/str_cat.h"
#include "records/privacy.h"
#include "server/log.h"

namespace crm::server {

std::unique_ptr<RetentionScheduler> RetentionScheduler::Start(
    const ServerCore* core) {
  const auto& privacy = core->config.privacy();
  if (privacy.retention_interval_seconds() == 0 ||
      privacy.retention_rules().empty()) {
    return nullptr;
  }
  std::unique_ptr<RetentionScheduler> s(new RetentionScheduler(core));
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

RetentionScheduler::~RetentionScheduler() { Stop(); }

void RetentionScheduler::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void RetentionScheduler::Loop() {
  const auto& privacy = core_->config.privacy();
  const absl::Duration interval =
      absl::Seconds(privacy.retention_interval_seconds());
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    if (!core_->database->available()) continue;
    records::RetentionOptions options;
    options.batch_size = static_cast<int>(privacy.retention_batch_size());
    options.trigger = "schedule";
    options.stop = [this] { return stop_.HasBeenNotified(); };
    crm::v1::RetentionRun run;
    absl::Status s = records::RunRetention(
        core_->RecordDeps(), privacy.retention_rules(), options, &run);
    int64_t records = 0;
    for (const auto& r : run.rules()) records += r.records();
    if (s.ok()) {
      LogInfo("retention.run", {{"run", run.name()},
                                {"records", absl::StrCat(records)},
                                {"batches", absl::StrCat(run.batches())}});
    } else if (absl::IsFailedPrecondition(s)) {
      LogInfo("retention.skipped", {{"reason", std::string(s.message())}});
    } else {
      LogWarning("retention.failed", {{"run", run.name()},
                                      {"error", s.ToString()},
                                      {"records", absl::StrCat(records)}});
    }
  }
}

}  // namespace crm::server
