// The audit trail's local spool (AuditConfig.spool_dir): events of calls
// that are not writes (audited reads, logins, logouts, refusals) are
// appended here before the call is answered, and store::AuditLog moves them
// into the database in large batches afterwards. The call then no longer
// waits for the database's commit, and an event survives the server being
// killed: the next start replays what the database does not have.
//
// On disk: one directory per server process (held with an flock on
// `LOCK`; a second process is refused), files named
// `events-{unix micros}-{random}.spool` (name order is write order), each
// the 16-byte magic "CRM-AUDIT-SPOOL1" and then records:
//
//   u32 little-endian payload length | 8 bytes: SHA-256(payload)[0..8) |
//   payload: crm.v1.AuditEvent in protobuf binary (time already set)
//
// A record's end offset is its position. The database keeps, per file, the
// end of the last record it committed (audit_spool_progress, written in the
// same transaction as the events: store/audit_store.h), so a replay never
// writes an event twice and never skips one.
//
// Recovery (Open): every file left by an earlier process is read. A record
// cut short at the end of a file (the process died inside write(2), so that
// call was never answered), or zeros to the end of a file (what an OS crash
// can leave), ends the file: it is truncated there, with a warning. Any
// other unreadable record is damage (a disk error, or an edit): Open fails
// and names the file and offset, because the events after it could not be
// replayed and an audit trail must not lose events silently.
//
// Durability: an event is in the kernel's page cache before its call is
// answered, so it survives the server crashing or being killed. Like SQLite
// with synchronous=NORMAL, the events not yet in the database when the
// machine itself loses power may be lost (the writer commits continuously,
// so that is the last few milliseconds). Where that matters, leave
// spool_dir empty: every such call then waits for its event's commit.
//
// Thread-safety: thread-compatible; AuditLog serializes every call.
#ifndef CRM_STORE_AUDIT_SPOOL_H_
#define CRM_STORE_AUDIT_SPOOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/v1/audit_service.pb.h"

namespace crm::store {

// Where an event is in the spool: its file and the end offset of its
// record.
struct SpoolPosition {
  std::string file;  // the file's name, e.g. "events-...-....spool"
  int64_t end = 0;
};

// An event left by an earlier process.
struct SpooledEvent {
  crm::v1::AuditEvent event;
  SpoolPosition position;
};

struct AuditSpoolOptions {
  // A new file is started once the current one is this large; a file is
  // removed once the database has every event in it.
  int64_t rotate_bytes = 16 << 20;
};

class AuditSpool {
 public:
  // Opens (creating it, mode 0700) and locks `dir`, and reads what earlier
  // processes left (see the file comment). FAILED_PRECONDITION when another
  // process holds the directory or a file is damaged; the OS error when the
  // directory cannot be created, locked or read.
  static absl::StatusOr<std::unique_ptr<AuditSpool>> Open(
      const std::string& dir, AuditSpoolOptions options = {});
  ~AuditSpool();
  AuditSpool(const AuditSpool&) = delete;
  AuditSpool& operator=(const AuditSpool&) = delete;

  // The events earlier processes left, in write order (once; later calls
  // return nothing).
  std::vector<SpooledEvent> TakeRecovered();

  // Appends `event` (its time set) to the current file. UNAVAILABLE naming
  // the OS error when it cannot be written (disk full, no descriptors):
  // the caller must then not answer the call.
  absl::StatusOr<SpoolPosition> Append(const crm::v1::AuditEvent& event);

  // The database has committed every event of `file` up to `end`, and so
  // (events are written in spool order) every event before it. Removes
  // the files that are complete (not the one being appended to) and whose
  // every event is committed; returns their names (their progress rows can
  // go).
  std::vector<std::string> Committed(const std::string& file, int64_t end);

  // Files not yet removed, and their bytes (for tests and metrics).
  size_t files() const { return files_.size(); }
  const std::string& dir() const { return dir_; }

 private:
  struct File {
    std::string name;
    int64_t size = 0;       // bytes written (the end of the last record)
    int64_t committed = 0;  // the database has everything up to here
    bool sealed = false;    // no more appends
  };

  AuditSpool(std::string dir, AuditSpoolOptions options, int lock_fd);
  absl::Status Recover();
  absl::Status StartFile();

  const std::string dir_;
  const AuditSpoolOptions options_;
  const int lock_fd_;
  int fd_ = -1;  // the current file, appended to
  std::vector<File> files_;  // write order; the last is the current one
  std::vector<SpooledEvent> recovered_;
  std::string buffer_;
};

}  // namespace crm::store

#endif  // CRM_STORE_AUDIT_SPOOL_H_
