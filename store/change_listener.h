// Notifications of committed changes between servers that share one
// PostgreSQL database (PostgreSQL LISTEN/NOTIFY), so that a policy change
// made through one server is enforced by every other one within
// milliseconds instead of at their next poll.
//
// Writer side: NotifyAtCommit(session, channel, payload) inside the writing
// transaction; PostgreSQL delivers the notification to every listener when
// (and only if) that transaction commits, after the data is visible.
// Reader side: a ChangeListener holds one dedicated libpq connection (not
// one of the Database's pooled ones) that has run LISTEN, and Wait()s on
// its socket.
//
// Notifications are a hint, never the source of truth: a listener whose
// connection broke, or that reconnected, may have missed some, so a reader
// still re-reads the state after every Wait (notified, timed out or
// failed) and keeps polling at its interval (server/policy_loader.h).
//
// SQLite has no notifications (one file, normally one server): Open
// answers UNIMPLEMENTED and NotifyAtCommit does nothing.
//
// Thread-safety: Wait and Open from one thread; Interrupt from any thread.
#ifndef CRM_STORE_CHANGE_LISTENER_H_
#define CRM_STORE_CHANGE_LISTENER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "store/database.h"

struct pg_conn;

namespace crm::store {

// The channel of policy changes: its payload is the new policy version.
inline constexpr char kPolicyChannel[] = "crm_policy";

// Inside a transaction on `session`: notifies `channel` with `payload` when
// the transaction commits (PostgreSQL pg_notify); nothing on SQLite.
absl::Status NotifyAtCommit(Session& session, absl::string_view channel,
                            absl::string_view payload);

// The application_name of a listener's connection (pg_stat_activity).
inline constexpr char kListenerApplicationName[] = "crm-policy-listener";

class ChangeListener {
 public:
  // Connects to `db`'s PostgreSQL database with its connection settings and
  // LISTENs on `channel` (a plain identifier). UNIMPLEMENTED on SQLite;
  // UNAVAILABLE when the database cannot be reached.
  static absl::StatusOr<std::unique_ptr<ChangeListener>> Open(
      const Database& db, const std::string& channel);
  ~ChangeListener();
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  // Waits up to `timeout` for a notification. True when at least one
  // arrived (every pending one is consumed: a burst wakes the caller once),
  // false on timeout or Interrupt. UNAVAILABLE when the connection broke:
  // open a new listener (and re-read the state: notifications may have
  // been missed).
  absl::StatusOr<bool> Wait(absl::Duration timeout);

  // Makes the current or next Wait return false at once.
  void Interrupt();

  // The payload of the newest notification Wait consumed ("" before any).
  const std::string& last_payload() const { return last_payload_; }

 private:
  ChangeListener(pg_conn* conn, int wake_read, int wake_write);
  // Consumes pending notifications; true if there was one.
  bool Drain();

  pg_conn* conn_;
  int wake_read_;
  int wake_write_;
  std::string last_payload_;
};

}  // namespace crm::store

#endif  // CRM_STORE_CHANGE_LISTENER_H_
