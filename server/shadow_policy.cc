#include "server/shadow_policy.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/log.h"
#include "server/policy_loader.h"
#include "server/policy_target.h"

namespace crm::server {

void ShadowCall::Disagreed(policy::ShadowDisagreement d) {
  ++disagreed_;
  // One record or object asked about twice in a call (CheckRecord after
  // AllowsRecord, Fields per filter term) is one disagreement.
  for (const policy::ShadowDisagreement& k : kept_) {
    if (k.question == d.question && k.resource == d.resource) return;
  }
  if (kept_.size() >= kMaxKept) {
    ++dropped_;
    return;
  }
  kept_.push_back(std::move(d));
}

ShadowPolicy::ShadowPolicy(store::Database* db, const PolicyLoader* loader)
    : db_(db), loader_(loader), store_(db) {}

absl::Status ShadowPolicy::Refresh(bool force) {
  absl::StatusOr<int64_t> revision = store_.ShadowRevision();
  if (!revision.ok()) return revision.status();
  {
    absl::MutexLock lock(&mu_);
    if (!force && *revision == row_.revision) return absl::OkStatus();
  }
  store::ShadowPolicyRow row;
  absl::Status read = db_->WithSession([&](store::Session& session) {
    auto r = store_.GetShadow(session);
    if (!r.ok()) return r.status();
    row = *std::move(r);
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  std::shared_ptr<const policy::PolicyBundle> bundle;
  std::string error;
  if (row.active) {
    crm::v1::PolicyBundleFiles files;
    if (!files.ParseFromString(row.bundle)) {
      error = "the stored candidate does not parse";
    } else {
      policy::ParsedBundle parsed = policy::ParseBundle(
          policy::BundleFiles(files.files().begin(), files.files().end()));
      if (!parsed.errors.empty()) {
        error = absl::StrCat("the stored candidate does not parse: ",
                             parsed.errors.front().message);
      } else {
        bundle = std::make_shared<const policy::PolicyBundle>(
            std::move(parsed.bundle));
      }
    }
  }
  row.bundle.clear();
  absl::MutexLock compiling(&compile_mu_);
  {
    absl::MutexLock lock(&mu_);
    row_ = std::move(row);
    bundle_ = std::move(bundle);
    active_ = bundle_ != nullptr;
    candidate_.reset();
    compiled_for_ = -1;
    compile_error_ = std::move(error);
    counting_since_ = absl::Now();
    compared_ = 0;
    disagreements_ = 0;
    calls_with_disagreements_ = 0;
    not_compared_ = 0;
    LogInfo("policy.shadow_loaded",
            {{"revision", absl::StrCat(row_.revision)},
             {"active", row_.active ? "true" : "false"}});
  }
  CompileLocked();
  return absl::OkStatus();
}

void ShadowPolicy::CompileLocked() {
  std::shared_ptr<const policy::PolicyBundle> bundle;
  bool prune = false;
  {
    absl::MutexLock lock(&mu_);
    bundle = bundle_;
    prune = row_.prune;
  }
  std::shared_ptr<const crm::internal::PolicyState> live =
      loader_->CurrentState();
  if (bundle == nullptr || live == nullptr) return;
  absl::StatusOr<Target> target = MakeTarget(*live, *bundle, prune);
  absl::StatusOr<std::shared_ptr<const policy::PolicySnapshot>> compiled =
      target.ok() ? loader_->Compile(target->state) : target.status();
  absl::MutexLock lock(&mu_);
  if (bundle_ != bundle) return;  // replaced meanwhile
  compiled_for_ = live->version();
  if (compiled.ok()) {
    candidate_ = *std::move(compiled);
    compile_error_.clear();
    return;
  }
  candidate_.reset();
  compile_error_ = std::string(compiled.status().message());
  LogError("policy.shadow_not_compiled",
           {{"revision", absl::StrCat(row_.revision)},
            {"live_version", absl::StrCat(compiled_for_)},
            {"error", compile_error_}});
}

ShadowPolicy::ForCall ShadowPolicy::CandidateFor(
    const policy::PolicySnapshot& live) {
  if (!active_.load(std::memory_order_relaxed)) return {};
  {
    absl::MutexLock lock(&mu_);
    if (bundle_ == nullptr) return {};
    if (compiled_for_ == live.version()) {
      return {candidate_, row_.revision, candidate_ == nullptr};
    }
  }
  // The live policy changed since the candidate was compiled: one call
  // recompiles it, the others are not compared meanwhile.
  if (compile_mu_.TryLock()) {
    CompileLocked();
    compile_mu_.Unlock();
  }
  absl::MutexLock lock(&mu_);
  if (bundle_ == nullptr) return {};
  if (compiled_for_ == live.version() && candidate_ != nullptr) {
    return {candidate_, row_.revision, false};
  }
  return {nullptr, row_.revision, true};
}

void ShadowPolicy::Finish(const ShadowCall& call) {
  compared_ += call.agreed() + call.disagreed();
  if (call.disagreed() > 0) {
    disagreements_ += call.disagreed();
    ++calls_with_disagreements_;
  }
}

void ShadowPolicy::NotCompared() { ++not_compared_; }

void ShadowPolicy::Describe(crm::v1::ShadowPolicyStatus* out) const {
  absl::MutexLock lock(&mu_);
  out->set_active(row_.active);
  out->set_revision(row_.revision);
  out->set_message(row_.message);
  out->set_set_by_user(row_.actor_user);
  out->set_set_by_service(row_.actor_service);
  if (row_.time > 0) {
    *out->mutable_set_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row_.time);
  }
  out->set_prune(row_.prune);
  if (!row_.active) return;
  out->set_live_version(compiled_for_);
  *out->mutable_counting_since() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
          absl::ToUnixMicros(counting_since_));
  out->set_decisions_compared(compared_);
  out->set_disagreements(disagreements_);
  out->set_calls_with_disagreements(calls_with_disagreements_);
  out->set_calls_not_compared(not_compared_);
  out->set_compile_error(compile_error_);
}

std::shared_ptr<const policy::PolicyBundle> ShadowPolicy::bundle(
    bool* prune) const {
  absl::MutexLock lock(&mu_);
  *prune = row_.prune;
  return bundle_;
}

}  // namespace crm::server
