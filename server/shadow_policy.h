// The shadow policy (crm/v1/admin_service.proto SetShadowPolicy): a
// candidate bundle evaluated beside the live policy on every call, never
// enforced.
//
// Where each part lives:
//   - the candidate is stored in the database (store::PolicyStore
//     GetShadow / PutShadow, migration 10), so every server evaluates it;
//   - ShadowPolicy (here) loads it when its revision changes (Refresh: at
//     start-up, after Set/Clear on this server, and every policy refresh
//     round on the others, server.cc) and compiles it against the live
//     policy, exactly as PlanPolicy would make it (policy_target.h
//     MakeTarget), again whenever the live version changes;
//   - the pipeline (pipeline.h, step 4) attaches the candidate to the call's
//     Evaluator (policy::Evaluator::AttachShadow) with a ShadowCall as the
//     sink, so every decision of the call is compared where it is made
//     (policy/shadow.h); after the handler it hands the ShadowCall back
//     (Finish) to be counted, and records its disagreements in the audit
//     trail.
//
// A candidate that stops compiling against a newer live policy (the bundle
// names a role the live policy no longer has, say) stays set but is not
// evaluated; GetShadowPolicy says why (`compile_error` in the log, and the
// counts stop).
//
// Thread-safety: all methods are thread-safe. ShadowCall belongs to one
// call and is not.
#ifndef CRM_SERVER_SHADOW_POLICY_H_
#define CRM_SERVER_SHADOW_POLICY_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/v1/admin_service.pb.h"
#include "policy/bundle.h"
#include "policy/shadow.h"
#include "policy/snapshot.h"
#include "store/database.h"
#include "store/policy_store.h"

namespace crm::server {

class PolicyLoader;

// The comparisons of one call (the Evaluator's sink).
class ShadowCall : public policy::ShadowSink {
 public:
  // At most this many disagreements are kept per call (the rest counted).
  static constexpr size_t kMaxKept = 20;

  void Agreed() override { ++agreed_; }
  void Disagreed(policy::ShadowDisagreement d) override;

  int64_t agreed() const { return agreed_; }
  int64_t disagreed() const { return disagreed_; }
  // The distinct disagreements (by question and resource), in order.
  const std::vector<policy::ShadowDisagreement>& kept() const { return kept_; }
  // Distinct disagreements beyond kMaxKept.
  int64_t dropped() const { return dropped_; }

  int64_t revision = 0;      // the candidate's
  int64_t live_version = 0;  // the live snapshot's

 private:
  int64_t agreed_ = 0;
  int64_t disagreed_ = 0;
  int64_t dropped_ = 0;
  std::vector<policy::ShadowDisagreement> kept_;
};

class ShadowPolicy {
 public:
  // The pointers must outlive this object; candidates are compiled with
  // the server's services by PolicyLoader::Compile, as the live policy is.
  ShadowPolicy(store::Database* db, const PolicyLoader* loader);

  // Reads the stored candidate; loads it if its revision differs from the
  // loaded one (or `force`). On a read failure the loaded one is kept.
  absl::Status Refresh(bool force = false);

  // What a call decided by `live` compares with.
  struct ForCall {
    // Null: no candidate, or none for this live version (see not_compared).
    std::shared_ptr<const policy::PolicySnapshot> candidate;
    int64_t revision = 0;
    // A candidate is set but was not ready for this live version (being
    // recompiled by another call, or it does not compile against it).
    bool not_compared = false;
  };
  ForCall CandidateFor(const policy::PolicySnapshot& live);

  // Counts one call's comparisons.
  void Finish(const ShadowCall& call);
  // Counts a call that was not compared.
  void NotCompared();

  // The stored candidate's description and this server's counts (without
  // `changes`, which the service adds).
  void Describe(crm::v1::ShadowPolicyStatus* out) const;
  // The loaded candidate's bundle and prune flag, if one is active.
  std::shared_ptr<const policy::PolicyBundle> bundle(bool* prune) const;

 private:
  // Compiles the loaded bundle against the loader's current state; sets
  // candidate_ (or compile_error_). Called with compile_mu_ held.
  void CompileLocked();

  store::Database* db_;
  const PolicyLoader* loader_;
  store::PolicyStore store_;

  // Serialises compiling (Refresh, and CandidateFor after a live change).
  absl::Mutex compile_mu_;
  mutable absl::Mutex mu_;
  store::ShadowPolicyRow row_ ABSL_GUARDED_BY(mu_);  // bundle bytes dropped
  std::shared_ptr<const policy::PolicyBundle> bundle_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const policy::PolicySnapshot> candidate_
      ABSL_GUARDED_BY(mu_);
  int64_t compiled_for_ ABSL_GUARDED_BY(mu_) = -1;  // live version
  std::string compile_error_ ABSL_GUARDED_BY(mu_);
  absl::Time counting_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // Whether a candidate is loaded: the one load a call makes when none is.
  std::atomic<bool> active_{false};
  std::atomic<int64_t> compared_{0};
  std::atomic<int64_t> disagreements_{0};
  std::atomic<int64_t> calls_with_disagreements_{0};
  std::atomic<int64_t> not_compared_{0};
};

}  // namespace crm::server

#endif  // CRM_SERVER_SHADOW_POLICY_H_
