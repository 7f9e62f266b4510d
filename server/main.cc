// crm_server: serves the CRM over mutual TLS.
//
//   crm_server --config=FILE [--listen=HOST:PORT] [--database=CONN]
//              [--port_file=PATH] [--metrics_listen=HOST:PORT]
//              [--log_level=info|debug] [--demo]
//   crm_server migrate --config=FILE     apply migrations and exit
//
// SIGTERM/SIGINT: health NOT_SERVING at once; keep serving for
// shutdown_drain_seconds; then refuse new calls (UNAVAILABLE) and let every
// call taken before finish, for up to shutdown_grace_seconds; exit 0
// (CrmServer::Shutdown, proto/crm/internal/server_config.proto). A second
// signal changes nothing (the signals stay blocked in every thread): the
// grace period bounds the stop; SIGKILL ends it at once.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/demo_data.h"
#include "server/log.h"
#include "server/server.h"
#include "store/database.h"
#include "store/migrations.h"

ABSL_FLAG(std::string, config, "", "Server configuration file (text proto).");
ABSL_FLAG(std::string, listen, "", "Overrides listen_address.");
ABSL_FLAG(std::string, database, "", "Overrides database.");
ABSL_FLAG(std::string, port_file, "", "Overrides port_file.");
ABSL_FLAG(std::string, metrics_listen, "",
          "Overrides metrics.listen_address (HOST:0 picks a free port; the "
          "metrics.started log line names it).");
ABSL_FLAG(std::string, log_level, "", "Overrides log_level.");
ABSL_FLAG(bool, demo, false,
          "Load the demo organisation if the database holds no records.");

namespace {

int Fail(const absl::Status& status) {
  crm::server::LogError("server.failed", {{"error", status.ToString()}});
  fprintf(stderr, "crm_server: %s\n", std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian's Abseil checks every mutex acquisition for lock-order cycles,
  // which costs 5-10% of CPU per call (bench/README.md). Debug builds and
  // the tests keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::SetProgramUsageMessage(
      "crm_server [migrate] --config=FILE [--listen=...] [--database=...]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  bool migrate_only = false;
  if (args.size() > 1) {
    if (std::string(args[1]) == "migrate") {
      migrate_only = true;
    } else {
      fprintf(stderr, "crm_server: unknown command '%s' (try --help)\n", args[1]);
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_config).empty()) {
    fprintf(stderr, "crm_server: --config=FILE is required\n");
    return 2;
  }
  auto config = crm::server::LoadConfigFile(absl::GetFlag(FLAGS_config));
  if (!config.ok()) return Fail(config.status());
  if (!absl::GetFlag(FLAGS_listen).empty()) {
    config->set_listen_address(absl::GetFlag(FLAGS_listen));
  }
  if (!absl::GetFlag(FLAGS_database).empty()) {
    config->set_database(absl::GetFlag(FLAGS_database));
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    config->set_port_file(absl::GetFlag(FLAGS_port_file));
  }
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    config->mutable_metrics()->set_listen_address(
        absl::GetFlag(FLAGS_metrics_listen));
  }
  if (!absl::GetFlag(FLAGS_log_level).empty()) {
    config->set_log_level(absl::GetFlag(FLAGS_log_level));
  }
  if (absl::Status s = crm::server::FinalizeConfig(&*config); !s.ok()) {
    return Fail(s);
  }
  crm::server::SetLogLevel(config->log_level() == "debug"
                               ? crm::server::LogLevel::kDebug
                               : crm::server::LogLevel::kInfo);

  if (migrate_only) {
    auto db = crm::store::Database::Open(config->database(), 1);
    if (!db.ok()) return Fail(db.status());
    if (absl::Status s = crm::store::Migrate(**db); !s.ok()) return Fail(s);
    auto version = crm::store::CurrentSchemaVersion(**db);
    if (!version.ok()) return Fail(version.status());
    crm::server::LogInfo("migrate.done",
                         {{"schema_version", absl::StrCat(*version)}});
    return 0;
  }

  // Block the signals before gRPC starts its threads, then wait for them in
  // one thread of our own.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  crm::server::CrmServer::BeforeServing before_serving;
  if (absl::GetFlag(FLAGS_demo)) before_serving = crm::server::LoadDemoOrganisation;
  auto server = crm::server::CrmServer::Start(*config, /*clock=*/nullptr,
                                              before_serving);
  if (!server.ok()) return Fail(server.status());

  std::atomic<bool> stopped{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (stopped.load()) return;  // woken below: no signal to act on
    crm::server::LogInfo("server.signal", {{"signal", strsignal(sig)}});
    (*server)->Shutdown(absl::Seconds(config->shutdown_grace_seconds()),
                        absl::Seconds(config->shutdown_drain_seconds()));
  });
  (*server)->Wait();
  // The server may also have stopped by itself (a start-up deferred until
  // the database came up that failed): wake the waiter if it still waits.
  // If it took a signal, it never waits again: the wake-up stays pending,
  // blocked, on that thread and is dropped when it ends.
  stopped.store(true);
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (absl::Status s = (*server)->startup_status(); !s.ok()) return Fail(s);
  crm::server::LogInfo("server.stopped");
  return 0;
}
