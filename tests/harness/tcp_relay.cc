#include "tests/harness/tcp_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crm::testing {
namespace {

sockaddr_in Loopback(const std::string& ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  return addr;
}

// Copies what is readable on `from` to `to`; false at EOF or error.
bool CopyOnce(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof(buf));
  if (n <= 0) return false;
  for (ssize_t done = 0; done < n;) {
    // MSG_NOSIGNAL: a peer that already closed must not SIGPIPE the test.
    ssize_t w = send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpRelay>> TcpRelay::Start(
    int target_port, const std::string& source_address) {
  std::unique_ptr<TcpRelay> relay(new TcpRelay());
  relay->target_port_ = target_port;
  relay->source_ = source_address;
  in_addr check{};
  if (inet_pton(AF_INET, source_address.c_str(), &check) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("relay: bad source address '", source_address, "'"));
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("relay: socket() failed");
  sockaddr_in addr = Loopback("127.0.0.1", 0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(
        absl::StrCat("relay: cannot listen: ", std::strerror(errno)));
  }
  relay->listen_fd_ = fd;
  relay->port_ = ntohs(addr.sin_port);
  relay->acceptor_ = std::thread([r = relay.get()] { r->AcceptLoop(); });
  return relay;
}

TcpRelay::~TcpRelay() {
  stopping_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> pumps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    pumps.swap(pumps_);
  }
  for (std::thread& t : pumps) t.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : fds_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
}

std::string TcpRelay::target() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpRelay::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(client);
      return;
    }
    fds_.push_back(client);
    pumps_.emplace_back([this, client] { Pump(client); });
  }
}

void TcpRelay::Pump(int client) {
  int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (upstream < 0) {
    shutdown(client, SHUT_RDWR);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(upstream);
  }
  sockaddr_in source = Loopback(source_, 0);
  sockaddr_in target = Loopback("127.0.0.1", target_port_);
  if (bind(upstream, reinterpret_cast<sockaddr*>(&source), sizeof(source)) !=
          0 ||
      connect(upstream, reinterpret_cast<sockaddr*>(&target),
              sizeof(target)) != 0) {
    shutdown(client, SHUT_RDWR);
    return;
  }
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  while (!stopping_) {
    int n = poll(fds, 2, 100);
    if (n < 0) break;
    if (n == 0) continue;
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
        !CopyOnce(client, upstream)) {
      break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
        !CopyOnce(upstream, client)) {
      break;
    }
  }
  shutdown(client, SHUT_RDWR);
  shutdown(upstream, SHUT_RDWR);
}

}  // namespace crm::testing
