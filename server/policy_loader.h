// Keeps the server's compiled policy in step with the database:
//   load PolicyState (store::PolicyStore) -> PolicySnapshot::Build (with the
//   registered services) -> PolicyHolder::Replace.
//
// When it runs:
//   - at start-up (Reload; the server refuses to start if the stored policy
//     does not compile: fail closed);
//   - after every successful policy write on this server (Install, with the
//     snapshot the writer already compiled from the committed state), so the
//     very next request sees the change;
//   - for changes made by other servers sharing the database: on
//     PostgreSQL, a policy write notifies the channel "crm_policy" at its
//     commit (store::PolicyStore::BumpPolicyVersion, NOTIFY) and a
//     background thread LISTENing on a dedicated connection
//     (store/change_listener.h) reloads at once; on every backend the same
//     thread also reads the one-row policy_version table every
//     `refresh_interval` (1 s in the server) and reloads when it differs
//     from the installed version. Polling stays as the fallback because a
//     notification is lost while the listening connection is down (it is
//     reopened, and the state re-read, on the next round) and SQLite has
//     none. A stored policy that stops compiling (which validated writes
//     prevent) keeps the last good snapshot installed and is logged as an
//     error.
//
// Thread-safety: all methods are thread-safe. Installs are monotonic: a
// snapshot older than the installed one is ignored.
#ifndef CRM_SERVER_POLICY_LOADER_H_
#define CRM_SERVER_POLICY_LOADER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "model/object_schema.h"
#include "policy/policy_holder.h"
#include "policy/snapshot.h"
#include "store/change_listener.h"
#include "store/database.h"
#include "store/policy_store.h"

namespace crm::server {

class PolicyLoader {
 public:
  // None of the pointers is owned; all must outlive the loader.
  PolicyLoader(store::Database* db, const crm::internal::ServerConfig* config,
               const model::SchemaRegistry* schemas,
               policy::PolicyHolder* holder);
  // Stops the refresh thread.
  ~PolicyLoader();

  PolicyLoader(const PolicyLoader&) = delete;
  PolicyLoader& operator=(const PolicyLoader&) = delete;

  // Compiles `state` with the server's services, exactly as it would be
  // enforced. INVALID_ARGUMENT with the compiler's message if it does not
  // compile.
  absl::StatusOr<std::shared_ptr<const policy::PolicySnapshot>> Compile(
      const crm::internal::PolicyState& state) const;

  // Loads the stored policy, compiles and installs it. On failure nothing
  // changes.
  absl::Status Reload();

  // Installs a snapshot compiled from `state` (already committed), unless
  // the installed one is at least as new.
  void Install(std::shared_ptr<const policy::PolicySnapshot> snapshot,
               crm::internal::PolicyState state);

  // The state the installed snapshot was compiled from (never null after a
  // successful Reload).
  std::shared_ptr<const crm::internal::PolicyState> CurrentState() const;
  int64_t version() const;

  // Runs `hook` on the refresh thread after every refresh round (the
  // shadow policy's poll). Set before StartRefresh.
  void SetRefreshHook(std::function<void()> hook) {
    refresh_hook_ = std::move(hook);
  }

  // Starts the background refresh (idempotent). Stop() or the destructor
  // ends it.
  void StartRefresh(absl::Duration interval);
  void Stop();

  // One refresh step: reloads if the stored version differs. Returns whether
  // it reloaded.
  absl::StatusOr<bool> RefreshOnce();

  // For a request that names the policy version its client has seen
  // (base/consistency.h, kMinPolicyVersionHeader): OK once a snapshot at least
  // `min_version` is installed. An older one is not waited out: the stored
  // version is read and, being at least `min_version` (the client saw it
  // committed), loaded at once, by one caller at a time (the others find it
  // installed). INVALID_ARGUMENT if the database has no such version (not a
  // token of this deployment); UNAVAILABLE with ErrorInfo POLICY_NOT_CURRENT
  // and RetryInfo if it cannot be installed within `timeout` (the database
  // is unreachable, or the stored policy does not compile).
  absl::Status AwaitVersion(int64_t min_version, absl::Duration timeout);

 private:
  void RefreshLoop(absl::Duration interval);

  store::Database* db_;
  const crm::internal::ServerConfig* config_;
  const model::SchemaRegistry* schemas_;
  policy::PolicyHolder* holder_;
  store::PolicyStore store_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const crm::internal::PolicyState> state_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = -1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The refresh thread's listener (owned by it), for Stop to interrupt.
  store::ChangeListener* listener_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::function<void()> refresh_hook_;
  std::thread refresher_;
  // Serialises AwaitVersion's loads.
  absl::Mutex await_mu_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_POLICY_LOADER_H_
