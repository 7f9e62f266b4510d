#include "server/policy_loader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/consistency.h"
#include "base/error.h"
#include "server/log.h"
#include "store/change_listener.h"

namespace crm::server {

PolicyLoader::PolicyLoader(store::Database* db,
                           const crm::internal::ServerConfig* config,
                           const model::SchemaRegistry* schemas,
                           policy::PolicyHolder* holder)
    : db_(db),
      config_(config),
      schemas_(schemas),
      holder_(holder),
      store_(db) {}

PolicyLoader::~PolicyLoader() { Stop(); }

absl::StatusOr<std::shared_ptr<const policy::PolicySnapshot>>
PolicyLoader::Compile(const crm::internal::PolicyState& state) const {
  return policy::PolicySnapshot::Build(state, config_->services(), *schemas_);
}

absl::Status PolicyLoader::Reload() {
  auto state = store_.LoadState();
  if (!state.ok()) return state.status();
  auto snapshot = Compile(*state);
  if (!snapshot.ok()) {
    return absl::Status(
        snapshot.status().code(),
        absl::StrCat("the stored access policy (version ", state->version(),
                     ") does not compile: ", snapshot.status().message()));
  }
  Install(*std::move(snapshot), *std::move(state));
  return absl::OkStatus();
}

void PolicyLoader::Install(
    std::shared_ptr<const policy::PolicySnapshot> snapshot,
    crm::internal::PolicyState state) {
  absl::MutexLock lock(&mu_);
  if (state.version() <= version_) return;
  version_ = state.version();
  state_ = std::make_shared<const crm::internal::PolicyState>(std::move(state));
  holder_->Replace(std::move(snapshot));
  LogInfo("policy.installed", {{"version", absl::StrCat(version_)}});
}

std::shared_ptr<const crm::internal::PolicyState> PolicyLoader::CurrentState()
    const {
  absl::MutexLock lock(&mu_);
  return state_;
}

int64_t PolicyLoader::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

absl::StatusOr<bool> PolicyLoader::RefreshOnce() {
  auto stored = store_.PolicyVersion();
  if (!stored.ok()) return stored.status();
  if (*stored == version()) return false;
  if (absl::Status s = Reload(); !s.ok()) return s;
  return true;
}

absl::Status PolicyLoader::AwaitVersion(int64_t min_version,
                                       absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (version() < min_version) {
    {
      absl::MutexLock lock(&await_mu_);
      if (version() >= min_version) break;
      auto stored = store_.PolicyVersion();
      if (stored.ok() && *stored < min_version) {
        return absl::InvalidArgumentError(absl::StrCat(
            base::kMinPolicyVersionHeader, ": policy version ", min_version,
            " does not exist (the newest is ", *stored,
            "); send the value of a response's x-crm-policy-version from "
            "this deployment"));
      }
      if (stored.ok()) {
        auto refreshed = RefreshOnce();
        last = refreshed.status();
      } else {
        last = stored.status();
      }
    }
    if (version() >= min_version) break;
    if (absl::Now() >= deadline) {
      return base::WithRetryInfo(
          base::WithErrorInfo(
              absl::UnavailableError(absl::StrCat(
                  "this server has policy version ", version(),
                  " and could not load version ", min_version,
                  " that the request requires (", last.message(),
                  "); retry, possibly on another server")),
              crm::v1::POLICY_NOT_CURRENT,
              {{"policy_version", absl::StrCat(version())},
               {"required_version", absl::StrCat(min_version)}}),
          absl::Seconds(1));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

void PolicyLoader::StartRefresh(absl::Duration interval) {
  absl::MutexLock lock(&mu_);
  if (refresher_.joinable() || stopping_) return;
  refresher_ = std::thread([this, interval] { RefreshLoop(interval); });
}

void PolicyLoader::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (listener_ != nullptr) listener_->Interrupt();
  }
  if (refresher_.joinable()) refresher_.join();
}

void PolicyLoader::RefreshLoop(absl::Duration interval) {
  int64_t failed_version = -1;
  auto refresh = [&] {
    auto refreshed = RefreshOnce();
    if (refreshed.ok()) return;
    // Keep the last good snapshot; log each failing version once.
    auto stored = store_.PolicyVersion();
    int64_t v = stored.ok() ? *stored : -2;
    if (v != failed_version) {
      LogError("policy.refresh_failed",
               {{"status", refreshed.status().ToString()},
                {"stored_version", absl::StrCat(v)},
                {"installed_version", absl::StrCat(version())}});
      failed_version = v;
    }
  };
  auto round = [&] {
    refresh();
    if (refresh_hook_) refresh_hook_();
  };
  // PostgreSQL: wake at a change's commit (LISTEN on a connection of our
  // own), and poll at the interval anyway. SQLite: poll.
  std::unique_ptr<store::ChangeListener> listener;
  bool listener_failed = false;  // logged once per outage
  while (true) {
    if (listener == nullptr && db_->dialect() == store::Dialect::kPostgres) {
      auto opened = store::ChangeListener::Open(*db_, store::kPolicyChannel);
      if (opened.ok()) {
        listener = *std::move(opened);
        if (listener_failed) LogInfo("policy.listening", {});
        listener_failed = false;
      } else if (!listener_failed) {
        LogError("policy.listen_failed",
                 {{"status", opened.status().ToString()},
                  {"fallback", absl::StrCat("polling every ",
                                            absl::FormatDuration(interval))}});
        listener_failed = true;
      }
      {
        absl::MutexLock lock(&mu_);
        listener_ = listener.get();
        if (stopping_) {
          listener_ = nullptr;
          return;
        }
      }
      // Changes committed while nobody listened were not notified.
      if (listener != nullptr) round();
    }
    if (listener != nullptr) {
      auto woke = listener->Wait(interval);
      if (!woke.ok()) {
        // The connection broke (a database restart): reopen at once, then
        // re-read what may have been missed.
        absl::MutexLock lock(&mu_);
        listener_ = nullptr;
        listener.reset();
        if (stopping_) return;
        continue;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (listener == nullptr) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval);
      }
      if (stopping_) {
        listener_ = nullptr;
        return;
      }
    }
    round();
  }
}

}  // namespace crm::server
