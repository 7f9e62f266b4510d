#!/usr/bin/python3
"""Connection limits and descriptor exhaustion on the real crm_server binary.

Issue 9: with `ulimit -n 1024`, 1,224 plain TCP connections held and closed
left the server unable to accept anything again (gRPC 1.51 stops a listener
for good when accept4 fails with EMFILE). Here each server is a crm_server
subprocess started with a low RLIMIT_NOFILE (soft = hard, so its start-up
raise cannot escape it) and its own config; the clients are plain sockets
and Debian's grpcio (certificates from certs/make-test-certs.sh):

  - DescriptorExhaustionTest: more plain TCP connections than the limit
    allows, held, then closed; the server logs the shed connections and
    serves a real mTLS call again afterwards;
  - MaxConnectionsTest: connections.max_connections is enforced (the ones
    beyond it are closed at once, the ones within it stay open);
  - TimeoutsTest: handshake_timeout_seconds closes a connection that never
    speaks TLS, max_connection_idle_seconds closes an idle mTLS connection
    (the client's channel goes READY -> IDLE with no call).

Usage (ctest runs it):
  connection_limits_test.py --server BUILD/server/crm_server [--source-dir REPO]
Prints "N passed, M failed" last; exits non-zero on any failure.
"""

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import external_client_test as ext  # noqa: E402  (stubs, run())

ARGS = None
CERTS = None    # certificate directory shared by every server
WORK = None     # temp dir of the run
DEADLINE = 20   # seconds any awaited condition may take (loaded CI box)


def wait_for(condition, deadline=DEADLINE, interval=0.05):
    """Polls condition() until it is true or `deadline` seconds pass."""
    end = time.time() + deadline
    while time.time() < end:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def closed_by_peer(sock):
    """Whether the server closed `sock` (end of stream or reset); no wait."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class Server:
    """A crm_server subprocess with its own config, database and log."""

    def __init__(self, name, connections, nofile=None):
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=WORK)
        self.log_path = os.path.join(self.dir, "server.log")
        config = os.path.join(self.dir, "server.textproto")
        with open(config, "w") as f:
            f.write("""
listen_address: "127.0.0.1:0"
database: "sqlite:%(dir)s/crm.db"
database_pool_size: 2
shutdown_grace_seconds: 1
tls {
  ca_file: "%(c)s/ca.pem"
  cert_file: "%(c)s/server.pem"
  key_file: "%(c)s/server.key"
  crl_directory: "%(c)s/crl"
  refresh_interval_seconds: 1
}
connections { %(conn)s }
encryption {
  master_key_file: "%(c)s/master.key"
}
services {
  name: "admin-cli"
  identities: "spiffe://crm.local/svc/admin-cli"
  grants { object: "*" read: true }
}
""" % {"dir": self.dir, "c": CERTS, "conn": connections})
        port_file = os.path.join(self.dir, "port")

        def limit_descriptors():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [ARGS.server, "--config=" + config, "--port_file=" + port_file],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir,
            preexec_fn=limit_descriptors)
        self.port = None

        def started():
            if self.proc.poll() is not None:
                raise RuntimeError("crm_server exited with %d:\n%s"
                                   % (self.proc.returncode, self.log_text()))
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return True
            return False

        if not wait_for(started, deadline=30):
            raise RuntimeError("crm_server did not start:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def channel(self):
        def read(name):
            with open(os.path.join(CERTS, name), "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(
            root_certificates=read("ca.pem"),
            private_key=read("admin-cli.key"),
            certificate_chain=read("admin-cli.pem"))
        return grpc.secure_channel(
            "127.0.0.1:%d" % self.port, creds,
            options=[("grpc.use_local_subchannel_pool", 1)])

    def echo_on_new_channel(self):
        """The status code of one Echo on a new connection."""
        with self.channel() as ch:
            stub = ext.PB["diag_grpc"].DiagnosticsServiceStub(ch)
            try:
                stub.Echo(ext.PB["diag"].EchoRequest(payload=b"x"), timeout=5)
                return grpc.StatusCode.OK
            except grpc.RpcError as e:
                return e.code()

    def connect_tcp(self):
        """A plain TCP connection (no TLS) to the server, or None."""
        try:
            c = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return None
        c.setblocking(False)  # closed_by_peer() must never wait
        return c

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class DescriptorExhaustionTest(unittest.TestCase):
    NOFILE = 256
    CONNECTIONS = 400

    def setUp(self):
        # Handshakes may take long: the held connections stay open until the
        # test closes them, as in the run.
        self.server = Server("exhaustion", "handshake_timeout_seconds: 120",
                             nofile=self.NOFILE)

    def tearDown(self):
        self.server.stop()

    def test_serves_again_after_more_connections_than_descriptors(self):
        s = self.server
        self.assertEqual(s.echo_on_new_channel(), grpc.StatusCode.OK)
        self.assertTrue(
            wait_for(lambda: '"soft_limit":"%d"' % self.NOFILE in s.log_text()),
            s.log_text()[-3000:])

        held = [c for c in (s.connect_tcp() for _ in range(self.CONNECTIONS))
                if c is not None]
        try:
            self.assertGreater(len(held), self.NOFILE,
                               "could not open more connections than the "
                               "server's descriptor limit")
            self.assertTrue(
                wait_for(lambda: "accept.connection_shed" in s.log_text()),
                "no accept.connection_shed line in the log:\n"
                + s.log_text()[-3000:])
            # Every connection beyond what the descriptors allow was closed
            # by the server, none was left hanging in the backlog.
            self.assertTrue(
                wait_for(lambda: sum(map(closed_by_peer, held))
                         >= len(held) - self.NOFILE),
                "only %d of %d connections closed"
                % (sum(map(closed_by_peer, held)), len(held)))
            self.assertIsNone(s.proc.poll(), "crm_server exited")
        finally:
            for c in held:
                c.close()

        self.assertTrue(
            wait_for(lambda: s.echo_on_new_channel() == grpc.StatusCode.OK),
            "the server does not serve again after the connections closed:\n"
            + s.log_text()[-3000:])
        self.assertNotIn("Failed accept4", s.log_text())


class MaxConnectionsTest(unittest.TestCase):
    LIMIT = 5

    def setUp(self):
        self.server = Server(
            "max-connections",
            "max_connections: %d handshake_timeout_seconds: 120" % self.LIMIT)

    def tearDown(self):
        self.server.stop()

    def test_connections_beyond_the_limit_are_shed(self):
        s = self.server
        first = [s.connect_tcp() for _ in range(self.LIMIT)]
        extra = [s.connect_tcp() for _ in range(self.LIMIT)]
        try:
            self.assertNotIn(None, first + extra)
            # The kernel queues connections in order; the guard admits the
            # first LIMIT and closes the rest at once.
            self.assertTrue(
                wait_for(lambda: all(map(closed_by_peer, extra))),
                "connections beyond max_connections were not closed: %s"
                % [closed_by_peer(c) for c in extra])
            self.assertEqual([closed_by_peer(c) for c in first],
                             [False] * self.LIMIT,
                             "a connection within max_connections was closed")
            self.assertTrue(
                wait_for(lambda: '"reason":"max_connections"' in s.log_text()),
                s.log_text()[-3000:])
            # Full: a real client is refused too.
            self.assertEqual(s.echo_on_new_channel(),
                             grpc.StatusCode.UNAVAILABLE)
        finally:
            for c in first + extra:
                c.close()
        self.assertTrue(
            wait_for(lambda: s.echo_on_new_channel() == grpc.StatusCode.OK),
            "no connection is admitted after the held ones closed")


class TimeoutsTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(
            "timeouts",
            "handshake_timeout_seconds: 1 max_connection_idle_seconds: 1")

    def tearDown(self):
        self.server.stop()

    def test_handshake_timeout_closes_a_silent_connection(self):
        c = self.server.connect_tcp()
        self.assertIsNotNone(c)
        start = time.time()
        try:
            self.assertTrue(wait_for(lambda: closed_by_peer(c)),
                            "a connection that never started TLS is open "
                            "after %d s" % DEADLINE)
            # Not shed: it was closed by the handshake timeout (1 s).
            self.assertGreaterEqual(time.time() - start, 0.8)
        finally:
            c.close()

    def test_idle_connection_is_closed(self):
        states = []
        lock = threading.Lock()

        def record(state):
            with lock:
                states.append(state)

        with self.server.channel() as ch:
            stub = ext.PB["diag_grpc"].DiagnosticsServiceStub(ch)
            stub.Echo(ext.PB["diag"].EchoRequest(payload=b"x"), timeout=5)
            ch.subscribe(record, try_to_connect=False)
            ready = grpc.ChannelConnectivity.READY
            idle = grpc.ChannelConnectivity.IDLE

            def went_idle():
                with lock:
                    return ready in states and idle in states[
                        states.index(ready):]

            ok = wait_for(went_idle)
            ch.unsubscribe(record)
            self.assertTrue(ok, "the idle connection was not closed: states "
                            "%s" % states)


class CountingResult(unittest.TextTestResult):
    passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    global ARGS, CERTS, WORK
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--source-dir",
                   default=os.path.normpath(os.path.join(here, "..", "..")))
    p.add_argument("--keep", action="store_true")
    ARGS, rest = p.parse_known_args(sys.argv[1:])
    ARGS.server = os.path.abspath(ARGS.server)
    # This process holds more connections than the servers may.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)),
                                                hard))
    WORK = tempfile.mkdtemp(prefix="crm-e2e-conn-")
    try:
        ext.generate_stubs(ARGS.source_dir, os.path.join(WORK, "stubs"))
        CERTS = os.path.join(WORK, "certs")
        ext.run([os.path.join(ARGS.source_dir, "certs/make-test-certs.sh"),
                 CERTS])
        loader = unittest.TestLoader()
        suite = unittest.TestSuite()
        for cls in [DescriptorExhaustionTest, MaxConnectionsTest, TimeoutsTest]:
            names = loader.getTestCaseNames(cls)
            if rest:
                names = [n for n in names if any(r in n for r in rest)]
            suite.addTests(cls(n) for n in names)
        result = unittest.TextTestRunner(
            verbosity=2, resultclass=CountingResult, stream=sys.stdout).run(suite)
    finally:
        if ARGS.keep:
            print("kept", WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
