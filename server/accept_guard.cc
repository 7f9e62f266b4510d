#include "server/accept_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/log.h"

namespace crm::server {
namespace {

constexpr int kMaxGuardedPorts = 32;
// At least this many descriptors must be left for connections.
constexpr rlim_t kMinConnectionDescriptors = 32;
// How often a full liveness scan may run while max_connections is reached.
constexpr absl::Duration kRescanInterval = absl::Milliseconds(20);

// One kind of event, logged at most once a second with the count since the
// previous line.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(const char* event) : event_(event) {}

  // Counts `n` events; logs them (with `detail`, the latest event's) unless
  // a line was written less than a second ago.
  void Note(uint64_t n, LogField detail) {
    pending_.fetch_add(n, std::memory_order_relaxed);
    MaybeWrite(std::move(detail));
  }

  // Logs the events counted since the last line, if any and if that line
  // is a second old: the tail of a burst is reported by the next accept.
  void Flush() {
    if (pending_.load(std::memory_order_relaxed) == 0) return;
    MaybeWrite({"detail", "since the previous line"});
  }

 private:
  void MaybeWrite(LogField detail) {
    const int64_t now = absl::ToUnixMillis(absl::Now());
    int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (now - last < 1000 || !last_ms_.compare_exchange_strong(
                                 last, now, std::memory_order_relaxed)) {
      return;
    }
    const uint64_t count = pending_.exchange(0, std::memory_order_relaxed);
    if (count == 0) return;
    LogWarning(event_, {{"connections", absl::StrCat(count)},
                        {"descriptor_limit", absl::StrCat(DescriptorLimit())},
                        std::move(detail)});
  }

  const char* event_;
  std::atomic<int64_t> last_ms_{0};
  std::atomic<uint64_t> pending_{0};
};

struct Connection {
  ino_t inode = 0;
  std::string peer;
  std::shared_ptr<const std::string> tag;  // null until tagged
};

struct Guard {
  std::atomic<int> ports[kMaxGuardedPorts] = {};
  std::atomic<int> port_count{0};
  std::atomic<int> reserved{64};
  std::atomic<int> max_connections{0};
  std::atomic<rlim_t> soft_limit{0};

  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> dropped_exhausted{0};
  std::atomic<uint64_t> shed_descriptors{0};
  std::atomic<uint64_t> shed_max_connections{0};
  std::atomic<uint64_t> retried_errors{0};
  std::atomic<uint64_t> interposed_calls{0};

  RateLimitedLog exhausted_log{"accept.descriptors_exhausted"};
  RateLimitedLog shed_log{"accept.connection_shed"};
  RateLimitedLog error_log{"accept.error"};

  absl::Mutex init_mu;
  bool initialized ABSL_GUARDED_BY(init_mu) = false;

  absl::Mutex spare_mu;
  int spare ABSL_GUARDED_BY(spare_mu) = -1;

  absl::Mutex table_mu;
  absl::flat_hash_map<int, Connection> by_fd ABSL_GUARDED_BY(table_mu);
  absl::flat_hash_map<std::string, int> by_peer ABSL_GUARDED_BY(table_mu);
  absl::Time last_full_scan ABSL_GUARDED_BY(table_mu) = absl::InfinitePast();
};

// Never destroyed: accept4 may run on gRPC threads during exit.
Guard& G() {
  static Guard* guard = new Guard();
  return *guard;
}

int RealAccept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}

int LocalPort(int fd) {
  sockaddr_storage local;
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    return -1;
  }
  if (local.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  }
  if (local.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  }
  return -1;
}

bool IsGuarded(int fd) {
  Guard& g = G();
  const int n = g.port_count.load(std::memory_order_acquire);
  if (n == 0) return false;
  const int port = LocalPort(fd);
  if (port <= 0) return false;
  for (int i = 0; i < n; ++i) {
    if (g.ports[i].load(std::memory_order_relaxed) == port) return true;
  }
  return false;
}

// The peer as grpc::ServerContext::peer() spells it (gRPC 1.51's
// grpc_sockaddr_to_uri: IPv4-mapped IPv6 addresses as ipv4, brackets
// percent-encoded).
std::string PeerString(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return absl::StrCat("ipv4:", text, ":", ntohs(in->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      in_addr v4;
      std::memcpy(&v4, &in6->sin6_addr.s6_addr[12], sizeof(v4));
      inet_ntop(AF_INET, &v4, text, sizeof(text));
      return absl::StrCat("ipv4:", text, ":", ntohs(in6->sin6_port));
    }
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return absl::StrCat("ipv6:%5B", text, "%5D:", ntohs(in6->sin6_port));
  }
  return "";
}

ino_t InodeOf(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return 0;
  return st.st_ino;
}

void EraseLocked(Guard& g, int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.table_mu) {
  auto it = g.by_fd.find(fd);
  if (it == g.by_fd.end()) return;
  auto peer = g.by_peer.find(it->second.peer);
  if (peer != g.by_peer.end() && peer->second == fd) g.by_peer.erase(peer);
  g.by_fd.erase(it);
}

// Drops records of connections gRPC has closed.
void PruneLocked(Guard& g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.table_mu) {
  std::vector<int> dead;
  for (const auto& [fd, conn] : g.by_fd) {
    if (InodeOf(fd) != conn.inode) dead.push_back(fd);
  }
  for (int fd : dead) EraseLocked(g, fd);
}

// Whether connection `fd` must be shed: it leaves fewer than `reserved`
// descriptors (the kernel hands out the lowest free number, so all of
// 0..fd-1 are open), or max_connections are open.
const char* ShedReason(Guard& g, int fd)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.table_mu) {
  const rlim_t limit = g.soft_limit.load(std::memory_order_relaxed);
  const rlim_t reserved =
      static_cast<rlim_t>(g.reserved.load(std::memory_order_relaxed));
  if (limit > reserved && static_cast<rlim_t>(fd) >= limit - reserved) {
    return "reserved_descriptors";
  }
  const size_t max =
      static_cast<size_t>(g.max_connections.load(std::memory_order_relaxed));
  if (max == 0 || g.by_fd.size() < max) return nullptr;
  // The table may hold connections gRPC closed since: count again, but not
  // on every accept while the server is full.
  const absl::Time now = absl::Now();
  if (now - g.last_full_scan < kRescanInterval) return "max_connections";
  g.last_full_scan = now;
  PruneLocked(g);
  return g.by_fd.size() < max ? nullptr : "max_connections";
}

void TrackLocked(Guard& g, int fd, const sockaddr_storage& addr)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.table_mu) {
  // A record under this number or peer is of a connection that is gone:
  // the kernel reused the number, or the same peer connected again.
  EraseLocked(g, fd);
  Connection conn;
  conn.inode = InodeOf(fd);
  conn.peer = PeerString(addr);
  auto old = g.by_peer.find(conn.peer);
  if (old != g.by_peer.end()) EraseLocked(g, old->second);
  g.by_peer[conn.peer] = fd;
  g.by_fd[fd] = std::move(conn);
}

void ReopenSpareLocked(Guard& g) ABSL_EXCLUSIVE_LOCKS_REQUIRED(g.spare_mu) {
  if (g.spare < 0) g.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// EMFILE/ENFILE: accept and close every waiting connection with the spare
// descriptor's slot, so that the backlog is empty when gRPC re-arms.
void DropWhileExhausted(Guard& g, int listener, int error) {
  uint64_t dropped = 0;
  {
    absl::MutexLock lock(&g.spare_mu);
    for (int i = 0; i < 65536; ++i) {
      if (g.spare >= 0) {
        close(g.spare);
        g.spare = -1;
      }
      const int fd = RealAccept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      const int accept_errno = errno;
      if (fd >= 0) {
        close(fd);
        ++dropped;
      }
      ReopenSpareLocked(g);
      if (fd < 0 && accept_errno != EINTR && accept_errno != ECONNABORTED) {
        break;  // EAGAIN: drained; EMFILE: another thread took the slot
      }
      if (g.spare < 0) break;
    }
  }
  g.dropped_exhausted.fetch_add(dropped, std::memory_order_relaxed);
  g.exhausted_log.Note(dropped, {"error", std::strerror(error)});
}

bool IsPerConnectionError(int error) {
  switch (error) {
    case ECONNABORTED:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETDOWN:
    case ENETUNREACH:
    case EPERM:
    case ETIMEDOUT:
      return true;
    default:
      return false;
  }
}

int GuardedAccept4(int listener, sockaddr* addr, socklen_t* addrlen,
                   int flags) {
  Guard& g = G();
  g.interposed_calls.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&g.spare_mu);
    ReopenSpareLocked(g);
  }
  for (;;) {
    sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    const int fd = RealAccept4(listener, reinterpret_cast<sockaddr*>(&peer),
                               &peer_len, flags);
    if (fd < 0) {
      const int error = errno;
      if (error == EMFILE || error == ENFILE) {
        DropWhileExhausted(g, listener, error);
        errno = EAGAIN;
        return -1;
      }
      if (error == ENOBUFS || error == ENOMEM) {
        g.error_log.Note(1, {"error", std::strerror(error)});
        errno = EAGAIN;
        return -1;
      }
      if (IsPerConnectionError(error)) {
        g.retried_errors.fetch_add(1, std::memory_order_relaxed);
        errno = EINTR;
        return -1;
      }
      errno = error;  // EAGAIN, EINTR, and a listener that was shut down
      return -1;
    }
    const char* shed = nullptr;
    {
      absl::MutexLock lock(&g.table_mu);
      shed = ShedReason(g, fd);
      if (shed == nullptr) TrackLocked(g, fd, peer);
    }
    if (shed != nullptr) {
      close(fd);
      (shed[0] == 'r' ? g.shed_descriptors : g.shed_max_connections)
          .fetch_add(1, std::memory_order_relaxed);
      g.shed_log.Note(1, {"reason", shed});
      continue;
    }
    g.accepted.fetch_add(1, std::memory_order_relaxed);
    g.exhausted_log.Flush();
    g.shed_log.Flush();
    if (addr != nullptr && addrlen != nullptr) {
      std::memcpy(addr, &peer, std::min<socklen_t>(*addrlen, peer_len));
      *addrlen = peer_len;
    }
    return fd;
  }
}

rlim_t NrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  rlim_t value = 0;
  if (in >> value) return value;
  return 1 << 20;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit.
rlim_t RaiseDescriptorLimit() {
  rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  const rlim_t before = lim.rlim_cur;
  rlim_t target = lim.rlim_max;
  if (target == RLIM_INFINITY) target = NrOpen();
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < target) {
    rlimit raised = lim;
    raised.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim.rlim_cur = target;
  }
  LogInfo("server.descriptor_limit",
          {{"soft_limit_before", absl::StrCat(before)},
           {"soft_limit", absl::StrCat(lim.rlim_cur)},
           {"hard_limit", lim.rlim_max == RLIM_INFINITY
                              ? std::string("unlimited")
                              : absl::StrCat(lim.rlim_max)}});
  return lim.rlim_cur;
}

}  // namespace

absl::Status ConfigureAcceptGuard(const AcceptGuardOptions& options) {
  Guard& g = G();
  {
    absl::MutexLock lock(&g.init_mu);
    if (!g.initialized) {
      g.initialized = true;
      g.soft_limit.store(RaiseDescriptorLimit());
      absl::MutexLock spare(&g.spare_mu);
      ReopenSpareLocked(g);
    }
  }
  const rlim_t limit = g.soft_limit.load();
  if (options.reserved_descriptors < 0 || options.max_connections < 0 ||
      limit < static_cast<rlim_t>(options.reserved_descriptors) +
                  kMinConnectionDescriptors) {
    return absl::FailedPreconditionError(absl::StrCat(
        "connections.reserved_descriptors (", options.reserved_descriptors,
        ") leaves fewer than ", kMinConnectionDescriptors,
        " descriptors for connections under the descriptor limit (", limit,
        "); raise `ulimit -n` (LimitNOFILE= in systemd) or lower "
        "reserved_descriptors"));
  }
  g.reserved.store(options.reserved_descriptors);
  g.max_connections.store(options.max_connections);
  return absl::OkStatus();
}

void GuardListeningPort(int port) {
  Guard& g = G();
  absl::MutexLock lock(&g.init_mu);
  const int n = g.port_count.load();
  for (int i = 0; i < n; ++i) {
    if (g.ports[i].load() == port) return;
  }
  if (n == kMaxGuardedPorts) {
    LogError("accept.too_many_ports", {{"port", absl::StrCat(port)}});
    return;
  }
  g.ports[n].store(port);
  g.port_count.store(n + 1, std::memory_order_release);
}

AcceptGuardStats GetAcceptGuardStats() {
  Guard& g = G();
  AcceptGuardStats s;
  s.accepted = g.accepted.load();
  s.dropped_exhausted = g.dropped_exhausted.load();
  s.shed_descriptors = g.shed_descriptors.load();
  s.shed_max_connections = g.shed_max_connections.load();
  s.retried_errors = g.retried_errors.load();
  s.interposed_calls = g.interposed_calls.load();
  return s;
}

rlim_t DescriptorLimit() { return G().soft_limit.load(); }

bool TagConnection(absl::string_view peer,
                   absl::FunctionRef<std::string()> make_tag) {
  Guard& g = G();
  int fd = -1;
  ino_t inode = 0;
  {
    absl::MutexLock lock(&g.table_mu);
    auto it = g.by_peer.find(peer);
    if (it == g.by_peer.end()) return false;
    auto conn = g.by_fd.find(it->second);
    if (conn == g.by_fd.end()) return false;
    if (conn->second.tag != nullptr) return true;
    fd = it->second;
    inode = conn->second.inode;
  }
  auto tag = std::make_shared<const std::string>(make_tag());
  absl::MutexLock lock(&g.table_mu);
  auto it = g.by_fd.find(fd);
  if (it == g.by_fd.end() || it->second.inode != inode) return false;
  if (it->second.tag == nullptr) it->second.tag = std::move(tag);
  return true;
}

int ShutdownConnections(
    absl::FunctionRef<bool(const std::string& tag)> matches,
    absl::FunctionRef<void(const std::string& peer, const std::string& tag)>
        on_shutdown) {
  Guard& g = G();
  struct Candidate {
    int fd;
    ino_t inode;
    std::string peer;
    std::shared_ptr<const std::string> tag;
  };
  std::vector<Candidate> tagged;
  {
    absl::MutexLock lock(&g.table_mu);
    for (const auto& [fd, conn] : g.by_fd) {
      if (conn.tag != nullptr) {
        tagged.push_back({fd, conn.inode, conn.peer, conn.tag});
      }
    }
  }
  int closed = 0;
  for (const Candidate& c : tagged) {
    if (!matches(*c.tag)) continue;
    // Act on a duplicate: it refers to whatever socket the number held at
    // dup() time, so checking its inode rules out a reused number.
    const int dup_fd = fcntl(c.fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) continue;  // closed already, or no descriptor free
    const bool same = InodeOf(dup_fd) == c.inode;
    if (same && shutdown(dup_fd, SHUT_RDWR) == 0) {
      ++closed;
      on_shutdown(c.peer, *c.tag);
    }
    close(dup_fd);
    if (!same) {
      absl::MutexLock lock(&g.table_mu);
      auto it = g.by_fd.find(c.fd);
      if (it != g.by_fd.end() && it->second.inode == c.inode) {
        EraseLocked(g, c.fd);
      }
    }
  }
  return closed;
}

int OpenConnectionCount() {
  Guard& g = G();
  absl::MutexLock lock(&g.table_mu);
  PruneLocked(g);
  return static_cast<int>(g.by_fd.size());
}

}  // namespace crm::server

// The interposed accept4 (see accept_guard.h). Sockets that are not guarded
// listeners are passed straight to the kernel.
extern "C" int accept4(int fd, sockaddr* __restrict addr,
                       socklen_t* __restrict addrlen, int flags) {
  if (!crm::server::IsGuarded(fd)) {
    return crm::server::RealAccept4(fd, addr, addrlen, flags);
  }
  return crm::server::GuardedAccept4(fd, addr, addrlen, flags);
}
