#include "store/change_listener.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "store/statement.h"

namespace crm::store {
namespace {

bool IsIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string ConnectionError(pg_conn* conn) {
  std::string message = conn == nullptr ? "out of memory" : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return message;
}

}  // namespace

absl::Status NotifyAtCommit(Session& session, absl::string_view channel,
                            absl::string_view payload) {
  if (DialectOf(session) != Dialect::kPostgres) return absl::OkStatus();
  auto rows = Query(session,
                    {"SELECT 1 FROM (SELECT pg_notify(?, ?)) AS n",
                     {std::string(channel), std::string(payload)}},
                    "notifying other servers of the change", Reuse::kCached);
  return rows.status();
}

absl::StatusOr<std::unique_ptr<ChangeListener>> ChangeListener::Open(
    const Database& db, const std::string& channel) {
  if (db.dialect() != Dialect::kPostgres) {
    return absl::UnimplementedError(
        "change notifications need PostgreSQL (SQLite is polled)");
  }
  if (!IsIdentifier(channel)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", channel, "' is not a channel name"));
  }
  // Named in pg_stat_activity, so operators (and tests killing the pool's
  // connections) can tell it from the pool's. dbname is expanded: the
  // connection string may be key=value pairs or a URI.
  const std::string conninfo = db.driver_connection();
  const char* keys[] = {"dbname", "application_name", nullptr};
  const char* values[] = {conninfo.c_str(), kListenerApplicationName, nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "cannot open the notification connection: ", ConnectionError(conn)));
    PQfinish(conn);
    return s;
  }
  PGresult* listen = PQexec(conn, absl::StrCat("LISTEN ", channel).c_str());
  const bool listening = PQresultStatus(listen) == PGRES_COMMAND_OK;
  PQclear(listen);
  if (!listening || PQsetnonblocking(conn, 1) != 0) {
    absl::Status s = absl::UnavailableError(
        absl::StrCat("LISTEN ", channel, " failed: ", ConnectionError(conn)));
    PQfinish(conn);
    return s;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    PQfinish(conn);
    return absl::ResourceExhaustedError(
        absl::StrCat("pipe for the notification listener: errno ", errno));
  }
  return std::unique_ptr<ChangeListener>(
      new ChangeListener(conn, pipe_fds[0], pipe_fds[1]));
}

ChangeListener::ChangeListener(pg_conn* conn, int wake_read, int wake_write)
    : conn_(conn), wake_read_(wake_read), wake_write_(wake_write) {}

ChangeListener::~ChangeListener() {
  PQfinish(conn_);
  close(wake_read_);
  close(wake_write_);
}

void ChangeListener::Interrupt() {
  const char byte = 1;
  // A full pipe already holds a wake-up: nothing to do.
  [[maybe_unused]] ssize_t n = write(wake_write_, &byte, 1);
}

bool ChangeListener::Drain() {
  bool any = false;
  while (PGnotify* n = PQnotifies(conn_)) {
    any = true;
    last_payload_ = n->extra == nullptr ? "" : n->extra;
    PQfreemem(n);
  }
  return any;
}

absl::StatusOr<bool> ChangeListener::Wait(absl::Duration timeout) {
  if (Drain()) return true;
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    pollfd fds[2] = {{PQsocket(conn_), POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (fds[0].fd < 0) {
      return absl::UnavailableError("the notification connection is closed");
    }
    const absl::Duration left = deadline - absl::Now();
    const int ms = left <= absl::ZeroDuration()
                       ? 0
                       : static_cast<int>(absl::ToInt64Milliseconds(
                             left + absl::Milliseconds(1) -
                             absl::Nanoseconds(1)));
    const int ready = poll(fds, 2, ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: errno ", errno));
    }
    if (fds[1].revents != 0) {
      char buf[64];
      while (read(wake_read_, buf, sizeof buf) > 0) {
      }
      return false;
    }
    if (fds[0].revents != 0) {
      if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
        return absl::UnavailableError(absl::StrCat(
            "the notification connection broke: ", ConnectionError(conn_)));
      }
      if (Drain()) return true;
    }
    if (ready == 0 && absl::Now() >= deadline) return false;
  }
}

}  // namespace crm::store
