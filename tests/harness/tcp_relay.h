// A TCP relay for tests that need a client to come from a chosen loopback
// address: it listens on 127.0.0.1 (port 0) and, for every connection it
// accepts, connects to the target from `source_address` (any 127/8 address
// works on Linux, see TOOLCHAIN.md "Test addresses"). Bytes are copied both
// ways untouched, so TLS passes through and the server sees the peer
// `source_address`.
//
// Thread-safety: the relay runs its own threads; its methods may be called
// from any thread. Destruction closes every connection and joins them.
#ifndef CRM_TESTS_HARNESS_TCP_RELAY_H_
#define CRM_TESTS_HARNESS_TCP_RELAY_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::testing {

class TcpRelay {
 public:
  // Relays to 127.0.0.1:`target_port` from `source_address` (IPv4 text).
  static absl::StatusOr<std::unique_ptr<TcpRelay>> Start(
      int target_port, const std::string& source_address);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:PORT": connect here (with server name override "localhost").
  std::string target() const;

 private:
  TcpRelay() = default;
  void AcceptLoop();
  void Pump(int client_fd);

  int listen_fd_ = -1;
  int port_ = 0;
  int target_port_ = 0;
  std::string source_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;  // every open socket, shut down on destruction
};

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_TCP_RELAY_H_
