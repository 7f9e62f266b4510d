#!/usr/bin/python3
"""Database faults, from the outside: the real crm_server binary, a real
PostgreSQL 15 cluster of the test's own (so killing it disturbs no other
test), Python grpcio clients.

  1. a server started before its database listens NOT_SERVING, answers
     UNAVAILABLE and becomes SERVING by itself once the database is up;
  2. PostgreSQL killed (immediate shutdown) under write load from several
     clients and started again: calls fail only with UNAVAILABLE during the
     outage, the server serves again within 2 s of the database accepting
     connections, every acknowledged write is present, none appears twice;
  3. a fast shutdown with no traffic: health goes NOT_SERVING, then SERVING
     within 2 s of the restart;
  4. a restart while the pool is idle: the first calls after it succeed;
  5. a shadow policy set before a restart is still loaded and compared
     after it (an outage does not silently stop the comparison).

The cluster runs with fsync=off (the machine does not crash, only the
server processes die) but synchronous_commit=on: an acknowledged COMMIT is
in the WAL the restarted server replays, which is what this test checks.

Usage (ctest runs it): db_fault_test.py --server BUILD/server/crm_server
Prints "N passed, M failed" last; exits non-zero on any failure.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import external_client_test as ext  # noqa: E402  (stubs, run(), results)

PB = ext.PB
PG_BIN = "/usr/lib/postgresql/15/bin"
RECOVERY_BOUND = 2.0   # seconds from "database accepts connections" to served
CALL_DEADLINE = 10

ARGS = None
ENV = None


def as_postgres(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.getuid() == 0 \
        else cmd


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(predicate, timeout, what, interval=0.02):
    """Polls predicate until true; raises naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.1f s waiting for %s"
                         % (timeout, what))


class Cluster:
    """A PostgreSQL cluster owned by this test."""

    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        os.makedirs(self.dir)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        ext.run(as_postgres([PG_BIN + "/initdb", "-D", self.dir + "/data",
                             "-U", "postgres", "--auth=trust", "-E", "UTF8",
                             "--locale=C.UTF-8"]))
        self.running = False

    def conninfo(self, dbname="postgres"):
        return "host=%s port=%d user=postgres dbname=%s" % (
            self.dir, self.port, dbname)

    def start(self):
        """Returns when the cluster accepts connections (pg_ctl -w)."""
        ext.run(as_postgres([
            PG_BIN + "/pg_ctl", "-D", self.dir + "/data", "-l",
            self.dir + "/server.log", "-w", "-t", "60", "start", "-o",
            "-p %d -k %s -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=on -c max_connections=50"
            % (self.port, self.dir)]))
        self.running = True

    def stop(self, mode):
        ext.run(as_postgres([PG_BIN + "/pg_ctl", "-D", self.dir + "/data",
                             "-m", mode, "-w", "stop"]))
        self.running = False

    def psql(self, dbname, sql):
        return ext.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-h", self.dir, "-p", str(self.port), "-U",
                        "postgres", "-d", dbname, "-c", sql])

    def teardown(self):
        if self.running:
            subprocess.run(as_postgres([PG_BIN + "/pg_ctl", "-D",
                                        self.dir + "/data", "-m",
                                        "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


class Environment:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="crm-dbfault-")
        os.chmod(self.dir, 0o755)  # the postgres user reaches its socket dir
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")

    def setup(self):
        src = self.args.source_dir
        ext.generate_stubs(src, os.path.join(self.dir, "stubs"))
        for short, mod in [("auth", "crm.v1.auth_service_pb2")]:
            import importlib
            PB[short] = importlib.import_module(mod)
        self.certs = os.path.join(self.dir, "certs")
        ext.run([os.path.join(src, "certs/make-test-certs.sh"), self.certs])
        self.cluster = Cluster(self.dir)
        self.cluster.start()
        self.dbname = "crm_fault"
        self.cluster.psql("postgres", "CREATE DATABASE %s" % self.dbname)
        self.config_path = os.path.join(self.dir, "server.textproto")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        # The schema exists before the tests start servers (as in
        # production: `crm_server migrate` runs before a rollout).
        ext.run([self.args.server, "migrate", "--config=" + self.config_path])

    def config_text(self):
        c = self.certs
        return """
listen_address: "127.0.0.1:0"
database: "postgresql:%(db)s"
database_pool_size: 4
shutdown_grace_seconds: 5
tls {
  ca_file: "%(c)s/ca.pem"
  cert_file: "%(c)s/server.pem"
  key_file: "%(c)s/server.key"
}
encryption {
  master_key_file: "%(c)s/master.key"
}
services {
  name: "admin-cli"
  identities: "spiffe://crm.local/svc/admin-cli"
  grants { object: "*" read: true create: true edit: true delete: true }
  system_permissions: "manage_policy"
}
""" % {"db": self.cluster.conninfo(self.dbname), "c": c}

    def start_server(self):
        port_file = os.path.join(self.dir, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [self.args.server, "--config=" + self.config_path,
             "--port_file=" + port_file],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

        def port():
            if self.proc.poll() is not None:
                raise RuntimeError("crm_server exited with %d:\n%s" % (
                    self.proc.returncode, self.server_log()))
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                return int(text) if text else None
            return None
        self.port = wait_for(port, 30, "the server's port file")

    def stop_server(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.proc = None

    def server_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-6000:]
        except OSError:
            return "(no log)"

    def channel(self):
        def read(name):
            with open(os.path.join(self.certs, name), "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(
            root_certificates=read("ca.pem"),
            private_key=read("admin-cli.key"),
            certificate_chain=read("admin-cli.pem"))
        return grpc.secure_channel(
            "127.0.0.1:%d" % self.port, creds,
            options=[("grpc.use_local_subchannel_pool", 1)])

    def crmctl(self, *args):
        """(exit status, stdout+stderr) of crmctl as admin-cli."""
        r = subprocess.run(
            [self.args.crmctl, "--target", "127.0.0.1:%d" % self.port,
             "--ca", os.path.join(self.certs, "ca.pem"),
             "--cert", os.path.join(self.certs, "admin-cli.pem"),
             "--key", os.path.join(self.certs, "admin-cli.key"),
             "--server-name", "localhost"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=60)
        return r.returncode, r.stdout

    def teardown(self):
        self.stop_server()
        self.cluster.teardown()
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)


def health_status(channel, service=""):
    stub = PB["health_grpc"].HealthStub(channel)
    try:
        resp = stub.Check(PB["health"].HealthCheckRequest(service=service),
                          timeout=5)
        return PB["health"].HealthCheckResponse.ServingStatus.Name(resp.status)
    except grpc.RpcError as e:
        return "ERROR:" + e.code().name


class ServerTestCase(unittest.TestCase):
    """Each test gets a fresh server process on the shared cluster."""

    def setUp(self):
        if not ENV.cluster.running:
            ENV.cluster.start()
        ENV.start_server()
        self.channel = ENV.channel()
        self.accounts = PB["service_grpc"].AccountServiceStub(self.channel)
        self.diag = PB["diag_grpc"].DiagnosticsServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()
        if not ENV.cluster.running:
            ENV.cluster.start()
        ENV.stop_server()

    def serving(self):
        return health_status(self.channel) == "SERVING"

    def not_serving(self):
        return health_status(self.channel) == "NOT_SERVING"

    def create(self, name, request_id=None):
        req = PB["service"].CreateAccountRequest(
            account=PB["resources"].Account(display_name=name))
        if request_id is not None and hasattr(req, "request_id"):
            req.request_id = request_id
        return self.accounts.CreateAccount(req, timeout=CALL_DEADLINE)

    def list_ok(self):
        try:
            self.accounts.ListAccounts(
                PB["service"].ListAccountsRequest(page_size=1),
                timeout=CALL_DEADLINE)
            return True
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE,
                             "during recovery: %s %s" % (e.code(), e.details()))
            return False

    def assert_recovers(self, started_at):
        """Serving and answering within RECOVERY_BOUND of started_at."""
        wait_for(self.list_ok, 30, "a List call to succeed again")
        served = time.monotonic() - started_at
        wait_for(self.serving, 5, "health SERVING")
        self.assertLessEqual(
            served, RECOVERY_BOUND,
            "served again %.2f s after the database accepted connections"
            % served)
        return served


class StartedBeforeDatabaseTest(ServerTestCase):
    def setUp(self):
        if ENV.cluster.running:
            ENV.cluster.stop("fast")
        ENV.start_server()
        self.channel = ENV.channel()
        self.accounts = PB["service_grpc"].AccountServiceStub(self.channel)
        self.diag = PB["diag_grpc"].DiagnosticsServiceStub(self.channel)

    def test_starts_not_serving_and_serves_once_the_database_is_up(self):
        wait_for(self.not_serving, 10, "health NOT_SERVING")
        self.assertEqual(
            health_status(self.channel, "crm.v1.AccountService"),
            "NOT_SERVING")
        self.assertEqual(
            health_status(self.channel, "crm.v1.DiagnosticsService"),
            "SERVING")
        # Echo answers (the process is alive); CRM calls are UNAVAILABLE,
        # naming the database, never SQL.
        self.diag.Echo(PB["diag"].EchoRequest(), timeout=5)
        # What an operator sees: crmctl health fails, echo works.
        code, out = ENV.crmctl("health")
        self.assertNotEqual(code, 0, out)
        self.assertIn("NOT_SERVING", out)
        code, out = ENV.crmctl("echo", "hi")
        self.assertEqual(code, 0, out)
        # The client is told why and when to retry (google.rpc details as
        # crmctl prints them): 2 + UNAVAILABLE (14).
        code, out = ENV.crmctl("accounts", "list")
        self.assertEqual(code, 16, out)
        self.assertIn("error: UNAVAILABLE: ", out)
        self.assertIn("reason: DATABASE_UNAVAILABLE", out)
        self.assertIn("retry after: ", out)
        with self.assertRaises(grpc.RpcError) as cm:
            self.create("Early Ltd")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE,
                         cm.exception.details())
        self.assertIn("database", cm.exception.details())
        self.assertNotIn("SELECT", cm.exception.details())
        ENV.cluster.start()
        up = time.monotonic()
        self.assert_recovers(up)
        self.assertTrue(self.create("Late Ltd").name)
        # Info lines reach the file within milliseconds (base/log.h).
        wait_for(lambda: "server.ready" in ENV.server_log(), 10,
                 "server.ready in the log")
        code, out = ENV.crmctl("health", "crm.v1.AccountService")
        self.assertEqual(code, 0, out)
        self.assertIn("SERVING", out)


class OutageUnderLoadTest(ServerTestCase):
    WRITERS = 4

    def writer(self, idx, stop, acked, errors, lock):
        channel = ENV.channel()
        stub = PB["service_grpc"].AccountServiceStub(channel)
        n = 0
        while not stop.is_set():
            n += 1
            name = "w%d-%d" % (idx, n)
            req = PB["service"].CreateAccountRequest(
                account=PB["resources"].Account(display_name=name))
            idempotent = hasattr(req, "request_id")
            if idempotent:
                req.request_id = uuid.uuid4().hex
            # Retry UNAVAILABLE with the same request id until it is
            # acknowledged (a client following AIP-155); without request
            # ids, a failed create is not retried (its outcome is unknown).
            while True:
                try:
                    stub.CreateAccount(req, timeout=CALL_DEADLINE)
                    with lock:
                        acked.append(name)
                    break
                except grpc.RpcError as e:
                    with lock:
                        errors.append((e.code(), e.details()))
                    if e.code() != grpc.StatusCode.UNAVAILABLE or \
                            not idempotent or stop.is_set():
                        break
                    time.sleep(0.02)
        channel.close()

    def test_kill_postgres_under_write_load(self):
        stop = threading.Event()
        acked, errors, lock = [], [], threading.Lock()
        threads = [threading.Thread(target=self.writer,
                                    args=(i, stop, acked, errors, lock))
                   for i in range(self.WRITERS)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(acked) >= 50, 60, "50 acknowledged writes")
            ENV.cluster.stop("immediate")
            wait_for(self.not_serving, 10, "health NOT_SERVING")
            # The outage lasts until writers have seen it.
            wait_for(lambda: any(c == grpc.StatusCode.UNAVAILABLE
                                 for c, _ in list(errors)), 10,
                     "a writer to see UNAVAILABLE")
            before = len(acked)
            ENV.cluster.start()
            up = time.monotonic()
            wait_for(lambda: len(acked) > before, 30,
                     "a write acknowledged after the restart")
            first_write = time.monotonic() - up
            self.assert_recovers(up)
            wait_for(lambda: len(acked) >= before + 50, 60,
                     "50 more acknowledged writes")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        print("  %d writes acknowledged, %d failed calls, first write %.2f s "
              "after restart" % (len(acked), len(errors), first_write))
        self.assertLessEqual(first_write, RECOVERY_BOUND)
        others = [(c, d) for c, d in errors
                  if c != grpc.StatusCode.UNAVAILABLE]
        self.assertEqual(others, [], "calls failed with other codes")
        for _, details in errors:
            self.assertIn("database", details)
            self.assertNotIn("SELECT", details)
            self.assertNotIn("INSERT", details)
        rows = ENV.cluster.psql(
            ENV.dbname, "SELECT display_name, count(*) FROM accounts "
            "WHERE display_name LIKE 'w%' GROUP BY display_name")
        counts = dict(line.split("|") for line in rows.split())
        missing = [n for n in acked if n not in counts]
        self.assertEqual(missing, [], "acknowledged writes missing")
        twice = {n: c for n, c in counts.items() if int(c) != 1}
        self.assertEqual(twice, {}, "writes stored more than once")


class RestartWithoutTrafficTest(ServerTestCase):
    def test_fast_shutdown_with_no_traffic(self):
        self.assertTrue(self.list_ok())
        wait_for(self.serving, 5, "health SERVING")
        ENV.cluster.stop("fast")
        # Only the policy poller touches the database now.
        wait_for(self.not_serving, 10, "health NOT_SERVING")
        code = None
        try:
            self.create("During Ltd")
        except grpc.RpcError as e:
            code = e.code()
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        ENV.cluster.start()
        up = time.monotonic()
        self.assert_recovers(up)
        wait_for(self.serving, RECOVERY_BOUND, "health SERVING")
        self.assertTrue(self.create("After Ltd").name)

    def test_restart_while_pool_is_idle(self):
        # Open every pooled connection, then restart between two polls.
        for _ in range(8):
            self.assertTrue(self.list_ok())
        ENV.cluster.stop("fast")
        ENV.cluster.start()
        up = time.monotonic()
        self.assert_recovers(up)
        for i in range(8):
            self.assertTrue(self.create("Idle %d" % i).name)


    def test_shadow_policy_survives_a_restart(self):
        """The candidate gives admin-cli view_audit: every ListAuditEvents
        is refused (live) and counted as a disagreement (shadow), before
        and after PostgreSQL restarts."""
        admin = PB["admin"]
        audit = PB["audit"]
        stub = PB["admin_grpc"].PolicyAdminServiceStub(self.channel)
        audits = PB["audit_grpc"].AuditServiceStub(self.channel)
        files = admin.PolicyBundleFiles(files={
            "permissionSets/fault-shadow.textproto":
                'system_permissions: VIEW_AUDIT\n'
                'assignees: "services/admin-cli"\n'})
        stub.SetShadowPolicy(admin.SetShadowPolicyRequest(bundle=files),
                             timeout=CALL_DEADLINE)

        def refused_and_counted():
            before = stub.GetShadowPolicy(admin.GetShadowPolicyRequest(),
                                          timeout=CALL_DEADLINE)
            try:
                audits.ListAuditEvents(audit.ListAuditEventsRequest(
                    page_size=1), timeout=CALL_DEADLINE)
                self.fail("ListAuditEvents was allowed: the shadow policy "
                          "was enforced")
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.PERMISSION_DENIED)
            after = stub.GetShadowPolicy(admin.GetShadowPolicyRequest(),
                                         timeout=CALL_DEADLINE)
            self.assertTrue(after.active)
            return after.disagreements - before.disagreements

        try:
            self.assertGreaterEqual(refused_and_counted(), 1)
            ENV.cluster.stop("fast")
            wait_for(self.not_serving, 10, "health NOT_SERVING")
            ENV.cluster.start()
            self.assert_recovers(time.monotonic())
            # Every policy refresh round during the outage failed; the
            # candidate is neither dropped nor stale once it is over.
            self.assertGreaterEqual(refused_and_counted(), 1)
        finally:
            stub.ClearShadowPolicy(admin.ClearShadowPolicyRequest(),
                                   timeout=CALL_DEADLINE)


class CountingResult(ext.CountingResult):
    pass


def main():
    global ARGS, ENV
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--source-dir", default=os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    p.add_argument("--crmctl", default=None,
                   help="crmctl binary (default: beside --server's build)")
    p.add_argument("--keep", action="store_true")
    ARGS, rest = p.parse_known_args(sys.argv[1:])
    ARGS.server = os.path.abspath(ARGS.server)
    if ARGS.crmctl is None:
        ARGS.crmctl = os.path.join(os.path.dirname(os.path.dirname(
            ARGS.server)), "clients", "crmctl")
    ENV = Environment(ARGS)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cls in [StartedBeforeDatabaseTest, RestartWithoutTrafficTest,
                OutageUnderLoadTest]:
        names = loader.getTestCaseNames(cls)
        if rest:
            names = [n for n in names if any(r in n for r in rest)]
        suite.addTests(cls(n) for n in names)
    result = None
    try:
        try:
            ENV.setup()
        except Exception as e:  # noqa: BLE001 - report any setup failure
            print("setup failed: %s" % e)
            print("0 passed, 1 failed")
            return 1
        runner = unittest.TextTestRunner(verbosity=2,
                                         resultclass=CountingResult,
                                         stream=sys.stdout)
        result = runner.run(suite)
    finally:
        if result is not None and (result.failures or result.errors):
            print("--- server log (tail) ---\n" + ENV.server_log())
        ENV.teardown()
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
