#!/usr/bin/python3
"""Soak: mixed Get/List/Update/Login load on the real crm_server for minutes.

Issue 9 asks that the server's memory and descriptors level off under a
long mixed load on both backends. For each backend this script:

  1. generates Python stubs and test certificates and starts the real
     crm_server binary with --demo on 127.0.0.1, port 0 (the helpers of
     tests/e2e/external_client_test.py, imported, not copied). SQLite is a
     fresh file; PostgreSQL is a fresh database in the cluster named by
     $CRM_TEST_PG_DIR, or in a throwaway cluster this script starts with
     tests/pg/pg_cluster.sh and stops at the end;
  2. seeds --accounts accounts, created by the demo user bob through the
     web-frontend service (so bob owns them and his manager erin sees them);
  3. runs, for --minutes, worker processes (this file with --worker):
       crud:  --crud-workers processes x --threads threads, each acting for
              bob or erin (a session token), closed loop: Get 50% (1 in 20 of
              them a missing record: NOT_FOUND), List 25% (a few filters and
              orders, sometimes the next page; 1 in 50 an invalid filter:
              INVALID_ARGUMENT), Update 25% (the phone, no etag);
       login: one thread, one login at a time: good logins as bob or erin
              from 127.0.0.1, each on a fresh connection (connection churn),
              followed by WhoAmI and Logout, and bad logins from --sources
              other loopback addresses (a TCP relay per address, so the
              server sees those peers): a wrong password for frank (a demo
              user nobody else uses), a wrong password for carol (whose
              profile forbids the address), and unknown usernames; at most
              --login-rate + --bad-login-rate a second, in that ratio, and
              idle at least as long as the last login took. Bad logins never
              come from 127.0.0.1, so the per-source throttle and the
              per-(user, source) lock of auth/lockout.h never hold back bob's
              and erin's logins;
  4. samples the server process every --sample-seconds: VmRSS and Threads
     (/proc/PID/status), open descriptors (/proc/PID/fd), CPU time, and the
     workers' call counts per method and status code;
  5. stops the server with SIGTERM and prints a table and a computed
     verdict.

Verdict (the thresholds are constants below and printed with the result):
  - RSS levels off: P(x) is the lowest RSS sampled in the window up to x
    (the last tenth of the run, at least 10 samples). The floor, because a
    login's Argon2 hash adds 64 MiB for as long as it runs (production
    costs); the floor moves with what the server keeps, which is what a
    leak grows. The floor's growth over the second half, P(100%) - P(50%),
    must be at most max(RSS_SLACK_MIB, RSS_SLACK_FRACTION * P(50%)).
  - descriptors level off: the largest count in the last third of the
    samples is at most the largest in the middle third + FD_SLACK (one
    connection is opened and closed per good login, so counts move by one
    or two).
  - no call failed with a code it was not expected to (expected: OK, and
    NOT_FOUND / INVALID_ARGUMENT for the calls made to get them, and
    UNAUTHENTICATED or RESOURCE_EXHAUSTED for bad logins), every kind of
    call was made, the workers stopped cleanly, and the server exits 0
    within its grace period on SIGTERM.
The clock starts once every worker has its session and connections, so
the samples show the steady state, not the clients' start-up.
Exits 0 iff every backend passes.

Usage (Debian's /usr/bin/python3 has grpcio):
  bench/soak.py --server BUILD/server/crm_server [--database both]
                [--minutes 10] [--json OUT.json]
ctest bench_soak_smoke_{sqlite,postgresql} (label bench_smoke) run
--minutes 0.5 --accounts 50 --hash-memory-kib 1024.
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import external_client_test as ext  # noqa: E402  (stubs, certs, server)

import grpc  # noqa: E402

PB = ext.PB

# --- Verdict thresholds -----------------------------------------------------
RSS_SLACK_MIB = 8.0        # second-half RSS floor growth allowed, absolute...
RSS_SLACK_FRACTION = 0.05  # ...or relative to P(50%), whichever is larger
POINT_WINDOW = 0.10        # P(x): the last tenth of the run up to x
FD_SLACK = 4               # max fds, last third vs middle third

CALL_DEADLINE = 30         # seconds; a loaded 2-core box, Argon2 logins
GRACE_SECONDS = 10         # server's shutdown grace period
PASSWORDS = {u: u + "-demo-pw" for u in ("bob", "erin", "frank", "carol")}
CRUD_USERS = ("bob", "erin")

# Expected status codes per kind of call (the key the workers count under).
EXPECTED = {
    "Get": {"OK"},
    "Get(missing)": {"NOT_FOUND"},
    "List": {"OK"},
    "List(bad filter)": {"INVALID_ARGUMENT"},
    "Update": {"OK"},
    "Login": {"OK"},
    "WhoAmI": {"OK"},
    "Logout": {"OK"},
    "Login(bad)": {"UNAUTHENTICATED", "RESOURCE_EXHAUSTED"},
}
LIST_QUERIES = [("", ""), ("", "display_name"), ('industry = "Retail"', ""),
                ('industry = "Energy"', "display_name desc"),
                ("employee_count > 500", "employee_count")]
INDUSTRIES = ["Retail", "Energy", "Finance", "Media"]


# --- Shared helpers ----------------------------------------------------------

def load_stubs(stubs_dir):
    """Imports stubs ext.generate_stubs made in stubs_dir (worker side)."""
    import importlib
    sys.path.insert(0, stubs_dir)
    for short, mod in [("resources", "crm.v1.resources_pb2"),
                       ("service", "crm.v1.crm_service_pb2"),
                       ("service_grpc", "crm.v1.crm_service_pb2_grpc"),
                       ("auth", "crm.v1.auth_service_pb2"),
                       ("auth_grpc", "crm.v1.auth_service_pb2_grpc")]:
        PB[short] = importlib.import_module(mod)


def credentials(certs, identity="web-frontend"):
    def read(name):
        with open(os.path.join(certs, name), "rb") as f:
            return f.read()
    return grpc.ssl_channel_credentials(
        root_certificates=read("ca.pem"),
        private_key=read(identity + ".key"),
        certificate_chain=read(identity + ".pem"))


def open_channel(certs, port):
    """A channel with a connection of its own (no subchannel sharing)."""
    return grpc.secure_channel(
        "127.0.0.1:%d" % port, credentials(certs),
        options=[("grpc.use_local_subchannel_pool", 1)])


def bearer(token):
    return (("authorization", "Bearer " + token),)


def login(channel, user, password):
    stub = PB["auth_grpc"].AuthServiceStub(channel)
    return stub.Login(
        PB["auth"].LoginRequest(username=user, password=password),
        timeout=CALL_DEADLINE).session_token


# --- Worker processes -------------------------------------------------------

class Counter:
    """Calls and seconds per (kind, status code); the first few unexpected
    outcomes kept with their details. Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.seconds = {}
        self.unexpected = []

    def call(self, kind, fn, *a, **kw):
        """Runs fn, counts its outcome; returns the response or None."""
        code, resp, detail = "OK", None, ""
        started = time.monotonic()
        try:
            resp = fn(*a, timeout=CALL_DEADLINE, **kw)
        except grpc.RpcError as e:
            code, detail = e.code().name, e.details()
        took = time.monotonic() - started
        with self.lock:
            per = self.counts.setdefault(kind, {})
            per[code] = per.get(code, 0) + 1
            self.seconds[kind] = self.seconds.get(kind, 0.0) + took
            if code not in EXPECTED[kind] and len(self.unexpected) < 10:
                self.unexpected.append([kind, code, detail])
        return resp

    def snapshot(self):
        with self.lock:
            return {"counts": {k: dict(v) for k, v in self.counts.items()},
                    "seconds": dict(self.seconds),
                    "unexpected": list(self.unexpected)}


def crud_thread(args, counter, accounts, user, seed, ready, stop):
    """Acts for `user` in a closed loop until stop; ready.set() once its
    session exists (or login failed, which the counts show)."""
    rng = random.Random(seed)
    channel = open_channel(args.certs, args.port)
    svc, pb = PB["service"], PB["resources"]
    stub = PB["service_grpc"].AccountServiceStub(channel)
    auth = PB["auth_grpc"].AuthServiceStub(channel)
    resp = counter.call("Login", auth.Login, PB["auth"].LoginRequest(
        username=user, password=PASSWORDS[user]))
    ready.set()
    if resp is None:
        channel.close()
        return
    md = bearer(resp.session_token)
    while not stop.is_set():
        r = rng.random()
        if r < 0.5:
            if rng.random() < 0.05:
                counter.call("Get(missing)", stub.GetAccount,
                             svc.GetAccountRequest(
                                 name="accounts/soak-missing-%d"
                                 % rng.randrange(10**9)), metadata=md)
            else:
                counter.call("Get", stub.GetAccount, svc.GetAccountRequest(
                    name=rng.choice(accounts)), metadata=md)
        elif r < 0.75:
            if rng.random() < 0.02:
                counter.call("List(bad filter)", stub.ListAccounts,
                             svc.ListAccountsRequest(
                                 filter="industry = = %d" % rng.randrange(99)),
                             metadata=md)
                continue
            flt, order = rng.choice(LIST_QUERIES)
            req = svc.ListAccountsRequest(filter=flt, order_by=order,
                                          page_size=rng.choice([10, 25, 50]))
            page = counter.call("List", stub.ListAccounts, req, metadata=md)
            if page is not None and page.next_page_token and \
                    rng.random() < 0.3:
                req.page_token = page.next_page_token
                counter.call("List", stub.ListAccounts, req, metadata=md)
        else:
            upd = svc.UpdateAccountRequest(account=pb.Account(
                name=rng.choice(accounts),
                phone="+44 20 %04d %04d" % (rng.randrange(10**4),
                                            rng.randrange(10**4))))
            upd.update_mask.paths.append("phone")
            counter.call("Update", stub.UpdateAccount, upd, metadata=md)
    channel.close()


class Relay:
    """Accepts on 127.0.0.1 and connects to the server from `source`.

    The server sees the peer `source`; TLS passes through untouched. Daemon
    threads: they end with the worker process."""

    def __init__(self, source, port):
        self.source, self.port = source, port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.local_port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            client, _ = self.listener.accept()
            upstream = socket.socket()
            upstream.bind((self.source, 0))
            upstream.connect(("127.0.0.1", self.port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def login_thread(args, counter, seed, ready, stop):
    """Good and bad logins, one at a time, mixed in the ratio of their rates.

    Good: bob or erin from 127.0.0.1 on a fresh connection, then WhoAmI and
    Logout with the new token. Bad: from one of --sources relays (never
    127.0.0.1): frank with a wrong password, carol with a wrong password
    (her profile forbids the address), or an unknown username.
    Pacing: the next login starts 1/(sum of rates) after the previous one
    started, and never sooner than the previous one took, so an Argon2 hash
    (64 MiB at production costs) is in flight at most half of the time and
    RSS samples between hashes show the server's floor."""
    rng = random.Random(seed)
    auth = PB["auth"]
    bad_stubs = []
    for i in range(args.sources):
        relay = Relay("127.0.77.%d" % (i + 1), args.port)
        channel = grpc.secure_channel(
            "127.0.0.1:%d" % relay.local_port, credentials(args.certs),
            options=[("grpc.use_local_subchannel_pool", 1)])
        grpc.channel_ready_future(channel).result(timeout=CALL_DEADLINE)
        bad_stubs.append(PB["auth_grpc"].AuthServiceStub(channel))
    ready.set()

    def good():
        user = rng.choice(CRUD_USERS)
        channel = open_channel(args.certs, args.port)
        stub = PB["auth_grpc"].AuthServiceStub(channel)
        resp = counter.call("Login", stub.Login, auth.LoginRequest(
            username=user, password=PASSWORDS[user]))
        if resp is not None:
            md = bearer(resp.session_token)
            counter.call("WhoAmI", stub.WhoAmI, auth.WhoAmIRequest(),
                         metadata=md)
            counter.call("Logout", stub.Logout, auth.LogoutRequest(),
                         metadata=md)
        channel.close()

    def bad():
        kind = rng.randrange(3)
        if kind == 0:
            user, pw = "frank", "not-" + PASSWORDS["frank"]
        elif kind == 1:
            user, pw = "carol", "not-" + PASSWORDS["carol"]
        else:
            user, pw = "soak-nobody-%d" % rng.randrange(10**6), "whatever-pw"
        counter.call("Login(bad)", rng.choice(bad_stubs).Login,
                     auth.LoginRequest(username=user, password=pw))

    total = args.login_rate + args.bad_login_rate
    if total <= 0:
        return
    while not stop.is_set():
        started = time.monotonic()
        (good if rng.random() < args.login_rate / total else bad)()
        took = time.monotonic() - started
        stop.wait(max(1.0 / total - took, took))


def worker_main(args):
    """--worker crud|login: prints {"ready": true} once its sessions and
    connections exist, then its cumulative counts as one JSON line a second
    until its stdin closes (the parent closes it, or dies) or SIGTERM, then
    a last line with "done"."""
    load_stubs(args.stubs)
    counter, stop = Counter(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin():
        sys.stdin.read()
        stop.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    threads, readies = [], []
    if args.worker == "crud":
        with open(args.accounts_file) as f:
            accounts = json.load(f)
        for i in range(args.threads):
            user = CRUD_USERS[(args.index * args.threads + i) % 2]
            readies.append(threading.Event())
            threads.append(threading.Thread(target=crud_thread, args=(
                args, counter, accounts, user, args.index * 1000 + i,
                readies[-1], stop)))
    else:
        readies.append(threading.Event())
        threads.append(threading.Thread(target=login_thread, args=(
            args, counter, args.index * 1000, readies[-1], stop)))
    for t in threads:
        t.daemon = True
        t.start()
    for r in readies:
        while not r.wait(0.5) and not stop.is_set():
            pass
    print(json.dumps(dict(counter.snapshot(), ready=True)), flush=True)
    while not stop.wait(1.0):
        print(json.dumps(counter.snapshot()), flush=True)
    for t in threads:
        t.join(timeout=CALL_DEADLINE + 5)
    print(json.dumps(dict(counter.snapshot(), done=True)), flush=True)
    return 0


# --- The server and its environment ----------------------------------------

class SoakEnvironment(ext.Environment):
    """ext.Environment with the demo organisation and production defaults
    (Argon2 costs, throttling, pool size) except where set below."""

    def config_text(self):
        c = self.certs
        auth = ""
        if self.args.hash_memory_kib:
            auth = "auth { password_hash_memory_kib: %d }" % \
                self.args.hash_memory_kib
        return """
listen_address: "127.0.0.1:0"
database: "%(db)s"
shutdown_grace_seconds: %(grace)d
%(auth)s
tls {
  ca_file: "%(c)s/ca.pem"
  cert_file: "%(c)s/server.pem"
  key_file: "%(c)s/server.key"
  crl_directory: "%(c)s/crl"
}
encryption {
  master_key_file: "%(c)s/master.key"
}
services {
  name: "admin-cli"
  identities: "spiffe://crm.local/svc/admin-cli"
  grants { object: "*" read: true create: true edit: true delete: true }
}
services {
  name: "web-frontend"
  identities: "spiffe://crm.local/svc/web-frontend"
  grants { object: "*" read: true create: true edit: true delete: true }
}
""" % {"db": self.database, "c": c, "grace": GRACE_SECONDS, "auth": auth}

    def start_server(self):
        """As ext.Environment.start_server, with --demo (the demo users)."""
        port_file = os.path.join(self.dir, "port")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.args.server, "--config=" + self.config_path,
             "--port_file=" + port_file, "--demo"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("crm_server exited with %d:\n%s"
                                   % (self.proc.returncode, self.server_log()))
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return
            time.sleep(0.05)
        raise RuntimeError("crm_server did not write its port file in 120 s:"
                           "\n" + self.server_log())


def seed_accounts(env, count):
    """Creates `count` accounts as bob; returns their names."""
    channel = open_channel(env.certs, env.port)
    md = bearer(login(channel, "bob", PASSWORDS["bob"]))
    stub = PB["service_grpc"].AccountServiceStub(channel)
    rng = random.Random(7)
    names = []
    for i in range(count):
        acc = PB["resources"].Account(
            display_name="Soak %04d Ltd" % i,
            industry=rng.choice(INDUSTRIES),
            employee_count=rng.randrange(1, 2000), billing_country="GB")
        names.append(stub.CreateAccount(
            PB["service"].CreateAccountRequest(account=acc),
            timeout=CALL_DEADLINE, metadata=md).name)
    channel.close()
    return names


# --- Sampling ----------------------------------------------------------------

def fd_kinds(pid):
    """Open descriptors by kind: "socket", "pipe", "anon_inode:[eventfd]",
    or a file's base name."""
    kinds = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue  # closed meanwhile
        kind = target.split(":[")[0] if ":[" in target and \
            not target.startswith("anon_inode") else target
        kind = os.path.basename(kind) if kind.startswith("/") else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def database_bytes(env):
    """{"database": bytes[, "wal": bytes]}: the SQLite file and its WAL, or
    pg_database_size."""
    if env.pg is None:
        path = env.database[len("sqlite:"):]
        return {name: os.path.getsize(path + suffix)
                for name, suffix in (("database", ""), ("wal", "-wal"))
                if os.path.exists(path + suffix)}
    out = ext.run(["psql", "-X", "-A", "-t", "-h", env.pg["host"], "-p",
                   env.pg["port"], "-U", env.pg.get("user", "postgres"), "-d",
                   env.pg["dbname"], "-c",
                   "SELECT pg_database_size(current_database())"])
    return {"database": int(out.strip())}


def proc_sample(pid):
    """(rss_kib, threads, fds, cpu_seconds) of a live process."""
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, threads, fds, cpu


class WorkerSet:
    """Worker subprocesses and their latest reports."""

    def __init__(self):
        self.procs, self.latest, self.readers = [], [], []
        self.lock = threading.Lock()

    def start(self, cmd):
        idx = len(self.procs)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        self.latest.append({"counts": {}, "seconds": {}, "unexpected": []})
        t = threading.Thread(target=self.read, args=(idx, proc), daemon=True)
        t.start()
        self.readers.append(t)

    def read(self, idx, proc):
        for line in proc.stdout:
            try:
                report = json.loads(line)
            except ValueError:
                continue
            with self.lock:  # "ready" stays once said
                self.latest[idx] = dict(self.latest[idx], **report)

    def all_ready(self):
        with self.lock:
            return all(r.get("ready") for r in self.latest)

    def totals(self):
        """Summed {"counts": {kind: {code: n}}, "seconds": {kind: s}} and
        the unexpected outcomes seen."""
        counts, seconds, unexpected = {}, {}, []
        with self.lock:
            for r in self.latest:
                for kind, per in r["counts"].items():
                    tot = counts.setdefault(kind, {})
                    for code, n in per.items():
                        tot[code] = tot.get(code, 0) + n
                for kind, sec in r["seconds"].items():
                    seconds[kind] = seconds.get(kind, 0.0) + sec
                unexpected.extend(r["unexpected"])
        return {"counts": counts, "seconds": seconds}, unexpected

    def stop(self, timeout):
        """Closes the workers' stdin (they stop) and waits; True iff every
        worker ended on its own, exit 0, with its final counts."""
        for p in self.procs:
            p.stdin.close()
        end, ok = time.time() + timeout, True
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                ok = False
                p.kill()
                p.wait()
        for t in self.readers:
            t.join(timeout=5)
        with self.lock:
            return ok and all(r.get("done") for r in self.latest) and \
                all(p.returncode == 0 for p in self.procs)

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def minus(a, b):
    """Totals a - b (calls made since b was taken)."""
    counts = {}
    for kind, per in a["counts"].items():
        base = b["counts"].get(kind, {})
        diff = {c: n - base.get(c, 0) for c, n in per.items()
                if n - base.get(c, 0)}
        if diff:
            counts[kind] = diff
    seconds = {k: v - b["seconds"].get(k, 0.0)
               for k, v in a["seconds"].items()}
    return {"counts": counts, "seconds": seconds}


def total_calls(totals):
    return sum(sum(per.values()) for per in totals["counts"].values())


# --- One backend -------------------------------------------------------------

def run_backend(args, database):
    ns = argparse.Namespace(server=args.server, source_dir=args.source_dir,
                            database=database, keep=args.keep,
                            hash_memory_kib=args.hash_memory_kib)
    env = SoakEnvironment(ns)
    workers = WorkerSet()
    result = {"database": database}
    try:
        t0 = time.time()
        env.setup()
        import importlib
        PB["auth"] = importlib.import_module("crm.v1.auth_service_pb2")
        PB["auth_grpc"] = importlib.import_module(
            "crm.v1.auth_service_pb2_grpc")
        accounts = seed_accounts(env, args.accounts)
        accounts_file = os.path.join(env.dir, "accounts.json")
        with open(accounts_file, "w") as f:
            json.dump(accounts, f)
        pid = env.proc.pid
        print("[%s] server pid %d on port %d, %d accounts seeded, %.1f s"
              % (database, pid, env.port, len(accounts), time.time() - t0),
              flush=True)

        base = [sys.executable, os.path.abspath(__file__), "--port",
                str(env.port), "--certs", env.certs,
                "--stubs", os.path.join(env.dir, "stubs")]
        for i in range(args.crud_workers):
            workers.start(base + ["--worker", "crud", "--index", str(i),
                                  "--threads", str(args.threads),
                                  "--accounts-file", accounts_file])
        workers.start(base + [
            "--worker", "login", "--index", str(args.crud_workers),
            "--login-rate", str(args.login_rate),
            "--bad-login-rate", str(args.bad_login_rate),
            "--sources", str(args.sources)])
        # The clock starts once every session and connection exists: the
        # samples show the steady state, not the clients' start-up.
        ready_by = time.time() + 180
        peak_before = 0
        while not workers.all_ready():
            if time.time() > ready_by or any(
                    p.poll() is not None for p in workers.procs):
                raise RuntimeError("the workers did not get ready")
            peak_before = max(peak_before, proc_sample(pid)[0])
            time.sleep(0.2)

        duration = args.minutes * 60.0
        interval = args.sample_seconds or min(5.0, max(1.0, duration / 120))
        start = time.time()
        base_totals, _ = workers.totals()

        def sample():
            rss, threads, fds, cpu = proc_sample(pid)
            totals, _ = workers.totals()
            return dict(t=time.time() - start, rss_kib=rss, threads=threads,
                        fds=fds, cpu=cpu, totals=minus(totals, base_totals))
        samples = [sample()]
        result["fd_kinds_start"] = fd_kinds(pid)
        result["db_bytes_start"] = database_bytes(env)
        print("[%s] workers ready after %.1f s (peak RSS meanwhile %.1f MiB)"
              "; %.1f min of load, a sample every %.1f s"
              % (database, start - t0, peak_before / 1024, duration / 60,
                 interval), flush=True)
        next_at = start + interval
        every = max(1, int(round(60 / interval)))
        while True:
            time.sleep(max(0.0, next_at - time.time()))
            if env.proc.poll() is not None:
                raise RuntimeError("crm_server died (exit %d) during the soak"
                                   ":\n%s" % (env.proc.returncode,
                                              env.server_log()))
            samples.append(sample())
            s = samples[-1]
            if not args.quiet and len(samples) % every == 0:
                print("  [%s] %5.0f s  RSS %7.1f MiB  fds %4d  threads %3d  "
                      "%7d calls" % (database, s["t"], s["rss_kib"] / 1024,
                                     s["fds"], s["threads"],
                                     total_calls(s["totals"])), flush=True)
            if next_at >= start + duration:
                break
            next_at = min(start + duration, next_at + interval)
        result["fd_kinds_end"] = fd_kinds(pid)
        result["db_bytes_end"] = database_bytes(env)
        workers_ok = workers.stop(timeout=CALL_DEADLINE + 30)
        totals, unexpected = workers.totals()
        result.update(samples=samples, totals=minus(totals, base_totals),
                      unexpected=unexpected, workers_ok=workers_ok,
                      duration=duration, interval=interval,
                      peak_before_kib=peak_before, seeded=len(accounts))
        # SIGTERM: the server must go within its grace period.
        env.proc.terminate()
        try:
            result["exit_code"] = env.proc.wait(timeout=GRACE_SECONDS + 30)
        except subprocess.TimeoutExpired:
            result["exit_code"] = None
        result["server_log_tail"] = env.server_log()[-1500:]
    finally:
        workers.kill()
        env.teardown()
    return result


# --- Verdict and report ------------------------------------------------------

def window(samples, x, r):
    """The samples in (x - w, x], w = max(POINT_WINDOW of the run, 10
    sampling intervals); the nearest one before x if that is empty."""
    w = max(POINT_WINDOW * r["duration"], 10 * r["interval"])
    got = [s for s in samples if x - w < s["t"] <= x + 1e-6]
    return got or [max((s for s in samples if s["t"] <= x + 1e-6),
                       key=lambda s: s["t"])]


def verdict(r):
    """Fills r["checks"] [(name, passed, text)], r["points"], r["passed"]."""
    samples, duration = r["samples"], r["duration"]
    r["points"] = {}
    for name, x in (("start", 0.0), ("25%", .25), ("50%", .5), ("75%", .75),
                    ("100%", 1.0)):
        got = window(samples, x * duration, r) if x else samples[:1]
        rss = [s["rss_kib"] / 1024 for s in got]
        r["points"][name] = dict(
            rss_floor=min(rss), rss_median=statistics.median(rss),
            rss_max=max(rss), fds=max(s["fds"] for s in got),
            threads=max(s["threads"] for s in got))
    checks = []
    p50 = r["points"]["50%"]["rss_floor"]
    growth = r["points"]["100%"]["rss_floor"] - p50
    allowed = max(RSS_SLACK_MIB, RSS_SLACK_FRACTION * p50)
    checks.append(("rss", growth <= allowed,
                   "RSS floor growth over the second half P(100%%)-P(50%%) "
                   "= %+.1f MiB (allowed <= %.1f MiB = max(%.0f MiB, %.0f%% "
                   "of %.1f MiB))" % (growth, allowed, RSS_SLACK_MIB,
                                      100 * RSS_SLACK_FRACTION, p50)))
    n = len(samples)
    middle = [s["fds"] for s in samples[n // 3:2 * n // 3]]
    last = [s["fds"] for s in samples[2 * n // 3:]]
    checks.append(("fds", max(last) <= max(middle) + FD_SLACK,
                   "descriptors: max in the last third %d vs max in the "
                   "middle third %d (allowed <= +%d)"
                   % (max(last), max(middle), FD_SLACK)))
    counts = r["totals"]["counts"]
    bad = {}
    for kind, per in counts.items():
        for code, cnt in per.items():
            if code not in EXPECTED.get(kind, ()):
                bad["%s %s" % (kind, code)] = cnt
    checks.append(("codes", not bad,
                   "calls with an unexpected code: %s" % (
                       ", ".join("%s x%d" % kv for kv in sorted(bad.items()))
                       or "none")))
    missing = [k for k in EXPECTED if not sum(counts.get(k, {}).values())]
    checks.append(("coverage", not missing,
                   "every kind of call made during the run: %s" % (
                       "yes" if not missing else "no, missing " +
                       ", ".join(missing))))
    checks.append(("workers", r["workers_ok"],
                   "workers stopped cleanly with their counts: %s"
                   % r["workers_ok"]))
    checks.append(("shutdown", r["exit_code"] == 0,
                   "server exit code after SIGTERM: %s" % r["exit_code"]))
    r["checks"] = checks
    r["passed"] = all(c[1] for c in checks)


def report(r):
    samples = r["samples"]
    print("\n=== %s: %.1f min of load, a sample every %.1f s ===" % (
        r["database"], r["duration"] / 60, r["interval"]))
    print("%8s %9s %6s %8s %9s %10s %12s" % (
        "time s", "RSS MiB", "fds", "threads", "calls/s", "srv CPU %",
        "CPU ms/call"))
    stride = max(1, (len(samples) - 1) // 20)
    shown = list(range(0, len(samples), stride))
    if shown[-1] != len(samples) - 1:
        shown.append(len(samples) - 1)
    prev = samples[0]
    for i in shown:
        s = samples[i]
        dt = s["t"] - prev["t"]
        calls = total_calls(s["totals"]) - total_calls(prev["totals"])
        cpu = s["cpu"] - prev["cpu"]
        print("%8.0f %9.1f %6d %8d %9.0f %10.0f %12.2f" % (
            s["t"], s["rss_kib"] / 1024, s["fds"], s["threads"],
            calls / dt if dt > 0 else 0, 100 * cpu / dt if dt > 0 else 0,
            1000 * cpu / calls if calls else 0))
        prev = s
    print("(calls/s and the server's CPU: since the previous row)")
    print("points: P(x) over the samples in the window up to x "
          "(start = the first sample)")
    print("  %-5s %10s %10s %10s %6s %8s" % ("", "RSS floor", "RSS median",
                                            "RSS max", "fds", "threads"))
    for name, p in r["points"].items():
        print("  %-5s %10.1f %10.1f %10.1f %6d %8d" % (
            name, p["rss_floor"], p["rss_median"], p["rss_max"], p["fds"],
            p["threads"]))
    peak = max(s["rss_kib"] for s in samples) / 1024
    print("  peak RSS sampled during the run %.1f MiB; before it (clients "
          "logging in at once) %.1f MiB" % (peak, r["peak_before_kib"] / 1024))
    dur = samples[-1]["t"]
    counts, seconds = r["totals"]["counts"], r["totals"]["seconds"]
    print("calls per kind (%.0f s):" % dur)
    for kind in EXPECTED:
        per = counts.get(kind, {})
        total = sum(per.values())
        print("  %-17s %8d %8.1f/s %8.1f ms  %s" % (
            kind, total, total / dur if dur else 0,
            1000 * seconds.get(kind, 0) / total if total else 0,
            " ".join("%s=%d" % kv for kv in sorted(per.items()))))
    total = total_calls(r["totals"])
    cpu = samples[-1]["cpu"] - samples[0]["cpu"]
    print("  %-17s %8d %8.1f/s   server CPU %.0f s (%.0f%% of one core)" % (
        "all", total, total / dur if dur else 0, cpu, 100 * cpu / dur))
    for when in ("start", "end"):
        print("  database size at the %s: %s" % (when, ", ".join(
            "%s %.1f MiB" % (k, v / 2**20)
            for k, v in r["db_bytes_" + when].items())))
    for when in ("start", "end"):
        print("  descriptors at the %s: %s" % (when, ", ".join(
            "%s %d" % kv for kv in sorted(r["fd_kinds_" + when].items()))))
    for u in r["unexpected"][:10]:
        print("  unexpected: %s %s %s" % tuple(u))
    for _, ok, text in r["checks"]:
        print("  %s %s" % ("PASS" if ok else "FAIL", text))
    print("verdict %s: %s" % (r["database"],
                              "PASS" if r["passed"] else "FAIL"))


# --- Main --------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default=os.environ.get("CRM_SERVER_BIN"))
    p.add_argument("--source-dir",
                   default=os.path.normpath(os.path.join(HERE, "..")))
    p.add_argument("--database", choices=["sqlite", "postgresql", "both"],
                   default="both")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--sample-seconds", type=float, default=0,
                   help="0: duration/120, within 1..5 s")
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--crud-workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=3,
                   help="threads per crud worker")
    p.add_argument("--login-rate", type=float, default=1.0,
                   help="good logins (+WhoAmI, Logout) per second")
    p.add_argument("--bad-login-rate", type=float, default=1.0)
    p.add_argument("--sources", type=int, default=8,
                   help="loopback source addresses of the bad logins")
    p.add_argument("--hash-memory-kib", type=int, default=0,
                   help="auth.password_hash_memory_kib (0: production 64 MiB)")
    p.add_argument("--json", help="write every sample and count here")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--quiet", action="store_true")
    # Worker mode (internal).
    p.add_argument("--worker", choices=["crud", "login"])
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--port", type=int)
    p.add_argument("--certs")
    p.add_argument("--stubs")
    p.add_argument("--accounts-file")
    args = p.parse_args(argv)
    if not args.worker:
        if not args.server:
            p.error("--server (or CRM_SERVER_BIN) is required")
        args.server = os.path.abspath(args.server)
        args.source_dir = os.path.abspath(args.source_dir)
    return args


def main(argv):
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)
    backends = ["sqlite", "postgresql"] if args.database == "both" \
        else [args.database]
    own_cluster = None
    if "postgresql" in backends and not os.environ.get("CRM_TEST_PG_DIR"):
        root = tempfile.mkdtemp(prefix="crm-soak-pg-")
        os.chmod(root, 0o755)  # the postgres user reaches its socket dir
        own_cluster = os.path.join(root, "pg")
        ext.run([os.path.join(args.source_dir, "tests/pg/pg_cluster.sh"),
                 "start", own_cluster])
        os.environ["CRM_TEST_PG_DIR"] = own_cluster
    print("uptime before: %s" % ext.run(["uptime"]).strip(), flush=True)
    results = []
    try:
        for db in backends:
            r = run_backend(args, db)
            r["uptime_after"] = ext.run(["uptime"]).strip()
            verdict(r)
            report(r)
            print("uptime after: %s" % r["uptime_after"], flush=True)
            results.append(r)
    finally:
        if own_cluster:
            subprocess.run([os.path.join(args.source_dir,
                                         "tests/pg/pg_cluster.sh"),
                            "stop", own_cluster],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            os.rmdir(os.path.dirname(own_cluster))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    ok = all(r["passed"] for r in results)
    print("\nsoak %s" % ("PASSED" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
