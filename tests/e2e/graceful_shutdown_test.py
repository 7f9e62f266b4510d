#!/usr/bin/python3
"""Graceful shutdown of the real crm_server binary on SIGTERM (issue 9).

The test makes the condition it needs rather than hoping for it: it holds
the database's write lock itself (SQLite: BEGIN IMMEDIATE on the server's
database file; PostgreSQL: SELECT ... FOR UPDATE on the rows the calls
update, in a psql session), sends N Updates, each to its own account, and
waits until the server's debug log shows all N in their handlers. With a
pool of 4 connections, 4 of them wait for the lock and the other N-4 wait
for a connection. Then it sends SIGTERM and checks, in order:

  1. health ("") reports NOT_SERVING at once;
  2. during the drain (shutdown_drain_seconds) the server serves as before:
     a new call succeeds;
  3. once the drain is over (the server logs server.stopping), a new call is
     refused with UNAVAILABLE, and the N Updates are still waiting;
  4. when the test releases the lock, every one of the N Updates completes
     OK (none CANCELLED), the server had counted exactly N running calls
     when it stopped taking calls, and the process exits 0 well within the
     grace period - although a health Watch stream (as a load balancer
     keeps) is open: it saw SERVING then NOT_SERVING, and was ended.

Usage (ctest runs it with /usr/bin/python3, which has Debian's grpcio):
  graceful_shutdown_test.py --server BUILD/server/crm_server \
      [--source-dir REPO] [--database sqlite|postgresql]
With --database postgresql, a fresh database is created in the cluster named
by $CRM_TEST_PG_DIR/conninfo (tests/pg/pg_cluster.sh) and dropped afterwards.
Stubs, certificates and the server process come from
external_client_test.py. Prints "N passed, M failed" last; exits non-zero on
any failure.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import external_client_test as ext  # noqa: E402

ENV = None
CALLS = 24            # Updates held by the lock; the pool has 4 connections
DRAIN_SECONDS = 4
GRACE_SECONDS = 60    # generous: the test asserts a much shorter stop
UPDATE = "/crm.v1.AccountService/UpdateAccount"


class ShutdownEnvironment(ext.Environment):
    def config_text(self):
        return super().config_text() + (
            'log_level: "debug"\nshutdown_drain_seconds: %d\n' % DRAIN_SECONDS)


def log_events(event=None):
    """The server's JSON log lines (optionally of one event), parsed."""
    out = []
    with open(ENV.log_path) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # gRPC's own log lines
            if event is None or entry.get("event") == event:
                out.append(entry)
    return out


def wait_for(what, condition, timeout):
    """Polls `condition` until true; fails the test with `what` after timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %ds waiting for %s\nserver log:\n%s"
                         % (timeout, what, ENV.server_log()))


class WriteLock:
    """Holds the write lock the Updates of `account_ids` need."""

    def __init__(self, account_ids):
        self.released = False
        if ENV.pg is None:
            path = ENV.database[len("sqlite:"):]
            self.sqlite = sqlite3.connect(path, timeout=30,
                                          isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
            return
        self.sqlite = None
        pg = ENV.pg
        self.psql = subprocess.Popen(
            ["psql", "-h", pg["host"], "-p", pg["port"],
             "-U", pg.get("user", "postgres"), "-d", pg["dbname"],
             "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        ids = ", ".join("'%s'" % i for i in account_ids)
        self.psql.stdin.write(
            "BEGIN;\nSELECT id FROM accounts WHERE id IN (%s) FOR UPDATE;\n"
            "\\echo locked\n" % ids)
        self.psql.stdin.flush()
        seen = []
        while True:
            line = self.psql.stdout.readline()
            if not line:
                raise RuntimeError("psql ended before locking:\n"
                                   + "".join(seen))
            seen.append(line)
            if line.strip() == "locked":
                break
        if len(seen) - 1 != len(account_ids):
            raise RuntimeError("locked %d rows, expected %d:\n%s"
                               % (len(seen) - 1, len(account_ids),
                                  "".join(seen)))

    def release(self):
        """Idempotent."""
        if self.released:
            return
        self.released = True
        if self.sqlite is not None:
            self.sqlite.execute("ROLLBACK")
            self.sqlite.close()
            return
        self.psql.stdin.write("ROLLBACK;\n")
        self.psql.stdin.close()
        self.psql.wait(timeout=30)


class GracefulShutdownTest(unittest.TestCase):
    def test_sigterm_drains_then_finishes_every_accepted_call(self):
        svc, pb = ext.PB["service"], ext.PB["resources"]
        health, diag = ext.PB["health"], ext.PB["diag"]
        channel = ENV.channel()
        accounts = ext.PB["service_grpc"].AccountServiceStub(channel)
        created = [accounts.CreateAccount(svc.CreateAccountRequest(
            account=pb.Account(display_name="Shutdown %02d" % i)),
            timeout=ext.DEADLINE) for i in range(CALLS)]

        lock = WriteLock([a.name.split("/", 1)[1] for a in created])
        try:
            self.run_shutdown(accounts, created, lock, health, diag, svc, pb)
        finally:
            lock.release()
            channel.close()

    def watch_health(self, health):
        """Starts a Watch of "" on its own channel. Returns the list it
        appends each status to (then the stream's final code) and its
        thread."""
        watched = []
        channel = ENV.channel()
        stream = ext.PB["health_grpc"].HealthStub(channel).Watch(
            health.HealthCheckRequest(service=""), timeout=GRACE_SECONDS * 2)

        def run():
            try:
                for response in stream:
                    watched.append(response.status)
                watched.append(grpc.StatusCode.OK)
            except grpc.RpcError as e:
                watched.append(e.code())
            channel.close()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return watched, thread

    def run_shutdown(self, accounts, created, lock, health, diag, svc, pb):
        def update(account):
            req = svc.UpdateAccountRequest(account=pb.Account(
                name=account.name, phone="+44 20 7946 0000"))
            req.update_mask.paths.append("phone")
            return accounts.UpdateAccount.future(req, timeout=120)
        started_before = len([e for e in log_events("call.started")
                              if e.get("method") == UPDATE])
        updates = [update(a) for a in created]
        # Every Update has reached its handler (and waits there, for the
        # lock or for a pooled connection).
        wait_for("%d Updates in their handlers" % CALLS,
                 lambda: len([e for e in log_events("call.started")
                              if e.get("method") == UPDATE])
                 - started_before >= CALLS, 60)
        self.assertFalse(any(f.done() for f in updates),
                         "an Update finished while the lock was held")

        with ENV.channel() as probe:
            health_stub = ext.PB["health_grpc"].HealthStub(probe)
            diag_stub = ext.PB["diag_grpc"].DiagnosticsServiceStub(probe)

            def health_status():
                return health_stub.Check(
                    health.HealthCheckRequest(service=""),
                    timeout=ext.DEADLINE).status

            self.assertEqual(health_status(),
                             health.HealthCheckResponse.SERVING)
            watched, watch_thread = self.watch_health(health)
            wait_for("the first Watch answer", lambda: watched, 30)
            signalled = time.time()
            ENV.proc.send_signal(signal.SIGTERM)

            # 1. NOT_SERVING at once (as soon as the signal is handled). A
            # Check that answers at all was admitted: the drain is on.
            wait_for("health NOT_SERVING",
                     lambda: health_status()
                     == health.HealthCheckResponse.NOT_SERVING, 10)
            # 2. The drain serves as before.
            echo = diag_stub.Echo(diag.EchoRequest(payload=b"draining"),
                                  timeout=ext.DEADLINE)
            self.assertEqual(echo.payload, b"draining")
            self.assertFalse(log_events("server.stopping"),
                             "the drain ended before the checks of it ran; "
                             "raise DRAIN_SECONDS")

            # 3. After the drain: new calls are refused, the Updates wait on.
            wait_for("server.stopping",
                     lambda: log_events("server.stopping"),
                     DRAIN_SECONDS + 30)
            drained_after = time.time() - signalled
            self.assertGreaterEqual(drained_after, DRAIN_SECONDS - 0.5)
            for name, call in [
                    ("Echo", lambda: diag_stub.Echo(diag.EchoRequest(),
                                                    timeout=ext.DEADLINE)),
                    ("health", health_status)]:
                with self.assertRaises(grpc.RpcError, msg=name) as refused:
                    call()
                self.assertEqual(refused.exception.code(),
                                 grpc.StatusCode.UNAVAILABLE,
                                 "%s: %s" % (name, refused.exception.details()))
        self.assertFalse(any(f.done() for f in updates),
                         "an Update ended when the server stopped taking "
                         "calls: " + "; ".join(
                             "%s %s" % (f.code(), f.details())
                             for f in updates if f.done()))
        stopping = log_events("server.stopping")[0]
        self.assertEqual(int(stopping["running"]), CALLS,
                         "calls the server counted as running when it "
                         "stopped taking calls")

        # 4. Release: every Update completes, the process exits 0.
        released = time.time()
        lock.release()
        results = []
        for f in updates:
            try:
                f.result()
                results.append("OK")
            except grpc.RpcError as e:
                results.append("%s %s" % (e.code(), e.details()))
        self.assertEqual(results, ["OK"] * CALLS, "Updates after the release")
        try:
            rc = ENV.proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            rc = None
        exited_after = time.time() - signalled
        self.assertEqual(rc, 0, "exit status (None: still running):\n"
                         + ENV.server_log())
        # Within the grace period - in practice, right after the last call.
        self.assertLess(exited_after, DRAIN_SECONDS + GRACE_SECONDS)
        self.assertLess(time.time() - released, GRACE_SECONDS / 2)
        self.assertTrue(log_events("server.stopped"))
        watch_thread.join(timeout=30)
        self.assertFalse(watch_thread.is_alive(), "the Watch stream is open")
        S = health.HealthCheckResponse
        self.assertEqual(watched[:2], [S.SERVING, S.NOT_SERVING], watched)
        self.assertTrue(isinstance(watched[-1], grpc.StatusCode), watched)
        self.assertFalse(log_events("server.stopping_with_calls"),
                         ENV.server_log())
        if os.environ.get("CRM_E2E_VERBOSE"):
            print("drain ended %.2fs after SIGTERM; exit %.2fs after SIGTERM, "
                  "%.2fs after the release" % (drained_after, exited_after,
                                               time.time() - released))


def main():
    global ENV
    args, _ = ext.parse_args(sys.argv[1:])
    ext.GRACE_SECONDS = GRACE_SECONDS  # used by Environment.config_text
    ENV = ShutdownEnvironment(args)
    ext.ENV = ENV
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(
        GracefulShutdownTest)
    try:
        try:
            ENV.setup()
        except Exception as e:  # noqa: BLE001 - report any setup failure
            print("setup failed: %s" % e)
            print("0 passed, 1 failed")
            return 1
        result = unittest.TextTestRunner(
            verbosity=2, resultclass=ext.CountingResult,
            stream=sys.stdout).run(suite)
    finally:
        ENV.teardown()
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
