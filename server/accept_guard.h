// The accept guard: keeps the server's listening sockets alive when the
// process runs out of file descriptors, and enforces the connection limits
// gRPC 1.51 has no option for.
//
// Why. gRPC 1.51's TCP server (iomgr tcp_server_posix.cc, on_read) retries
// accept4 on EINTR and EAGAIN only. Any other error, EMFILE ("Too many open
// files") above all, logs "Failed accept4" and stops that listening socket
// for the life of the server: the process lives on and never accepts again.
// It has no connection-count limit either (no
// GRPC_ARG_MAX_ALLOWED_INCOMING_CONNECTIONS before 1.62).
//
// How. This library defines `accept4` (extern "C"). libgrpc.so calls accept4
// through its PLT, so the dynamic linker binds that call to the definition
// in the executable; the guard calls the kernel itself with
// syscall(SYS_accept4). ConfigureAcceptGuard must be called (CrmServer does,
// via connection_limits.h), which also makes sure the object file holding
// the definition is linked from the static library. For a socket listening
// on a port passed to GuardListeningPort, and for nothing else:
//   - EMFILE/ENFILE: the classic spare-descriptor trick. The guard keeps one
//     descriptor open on /dev/null; it closes it, accepts the waiting
//     connection, closes that at once (the client sees the connection
//     closed), reopens the spare, and repeats until the backlog is empty.
//     Then it returns -1 with errno EAGAIN, which gRPC reads as "nothing to
//     accept": the listener is re-armed instead of stopped;
//   - errors of the one connection being accepted (ECONNABORTED, EPROTO,
//     ENETDOWN, EHOSTUNREACH, EPERM, ...; accept(2) says to retry) become
//     EINTR, on which gRPC calls accept4 again at once;
//   - ENOBUFS/ENOMEM become EAGAIN (the listener waits for the next
//     connection to arrive instead of dying);
//   - a connection that would leave fewer than `reserved_descriptors` free
//     below RLIMIT_NOFILE, or beyond `max_connections` open connections, is
//     closed at once (shed) and the guard accepts the next one.
// EBADF/EINVAL/ENOTSOCK (the listener shut down) pass through unchanged, so
// gRPC's own shutdown works as before. Every drop and shed is counted and
// logged (one line per kind per second at most, with the count since the
// last line).
//
// Open connections. The guard records each connection it accepted (file
// descriptor, socket inode, peer address as ServerContext::peer() spells
// it) so that other layers can act on one connection, which gRPC 1.51 has
// no API for: TagConnection attaches a tag (the TLS layer uses the client
// certificate) and ShutdownConnections shuts down (shutdown(2), SHUT_RDWR)
// the connections whose tag matches; gRPC then sees the socket closed and
// frees it. A record is checked against the socket's inode through a dup()
// of the descriptor before anything is done to it, so a descriptor number
// that gRPC closed and the kernel reused is never touched.
//
// Thread safety: everything here may be called from any thread. The guard
// is process-wide (accept4 is), so several servers in one process (tests)
// share it; ConfigureAcceptGuard's latest options apply to all.
#ifndef CRM_SERVER_ACCEPT_GUARD_H_
#define CRM_SERVER_ACCEPT_GUARD_H_

#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::server {

struct AcceptGuardOptions {
  // Descriptors kept free below the soft RLIMIT_NOFILE.
  int reserved_descriptors = 64;
  // Open guarded connections at most; 0: no limit of its own.
  int max_connections = 0;
};

// Applies `options` and, on the first call, raises the soft RLIMIT_NOFILE to
// the hard limit (logging both) and opens the spare descriptor. Fails with
// FAILED_PRECONDITION if the descriptor limit leaves fewer than 32
// descriptors for connections beside reserved_descriptors (the message
// names both figures).
absl::Status ConfigureAcceptGuard(const AcceptGuardOptions& options);

// Guards the sockets listening on TCP `port` (every address family).
void GuardListeningPort(int port);

// Counters since the process started. Monotonic; read without a lock.
struct AcceptGuardStats {
  uint64_t accepted = 0;              // connections handed to gRPC
  uint64_t dropped_exhausted = 0;     // accepted and closed on EMFILE/ENFILE
  uint64_t shed_descriptors = 0;      // closed: reserved_descriptors reached
  uint64_t shed_max_connections = 0;  // closed: max_connections reached
  uint64_t retried_errors = 0;        // per-connection errors turned into EINTR
  uint64_t interposed_calls = 0;      // accept4 calls seen on guarded sockets
};
AcceptGuardStats GetAcceptGuardStats();

// The soft RLIMIT_NOFILE the guard works with.
rlim_t DescriptorLimit();

// Attaches a tag to the open connection from `peer` (a ServerContext::peer()
// string, "ipv4:127.0.0.1:5678" or "ipv6:%5B::1%5D:5678") unless it has one.
// `make_tag` is called only then, without any lock held. Returns false if
// the guard tracks no connection from `peer` (not accepted on a guarded
// port, or already closed).
bool TagConnection(absl::string_view peer,
                   absl::FunctionRef<std::string()> make_tag);

// Shuts down every tracked, still open connection whose tag satisfies
// `matches` (called without any lock held; untagged connections are never
// matched). Returns how many were shut down; `on_shutdown` is told each
// one's peer and tag.
int ShutdownConnections(
    absl::FunctionRef<bool(const std::string& tag)> matches,
    absl::FunctionRef<void(const std::string& peer, const std::string& tag)>
        on_shutdown);

// Tracked connections that are still open (checks each one; for tests and
// diagnostics, O(connections)).
int OpenConnectionCount();

}  // namespace crm::server

#endif  // CRM_SERVER_ACCEPT_GUARD_H_
