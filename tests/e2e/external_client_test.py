#!/usr/bin/python3
"""An outside client: Python grpcio against the real crm_server binary.

Uses nothing from this repository but the .proto files, the certificate
scripts and the server binary, as any third-party integration would:

  1. generates Python stubs from proto/ (system protoc + grpc_python_plugin)
     and from /usr/share/grpc-proto (health, reflection),
  2. generates test certificates with certs/make-test-certs.sh,
  3. writes a server config and starts crm_server on 127.0.0.1, port 0,
  4. does CRUD, List (filter, order_by, paging), error statuses, mTLS
     refusals, health, reflection over mTLS with grpcio.
(SIGTERM under load: graceful_shutdown_test.py, which reuses this file's
Environment.)

Usage (ctest runs it with /usr/bin/python3, which has Debian's grpcio):
  external_client_test.py --server BUILD/server/crm_server \
      [--source-dir REPO] [--database sqlite|postgresql]
With --database postgresql, a fresh database is created in the cluster named
by $CRM_TEST_PG_DIR/conninfo (tests/pg/pg_cluster.sh) and dropped afterwards.
Prints "N passed, M failed" last; exits non-zero on any failure.
"""

import argparse
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import grpc

ARGS = None     # parsed command line
ENV = None      # the running environment (class Environment)
PB = {}         # generated modules by short name

GRACE_SECONDS = 5


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", default=os.environ.get("CRM_SERVER_BIN"),
                   help="path to the crm_server binary")
    p.add_argument("--source-dir",
                   default=os.path.normpath(os.path.join(here, "..", "..")))
    p.add_argument("--database", choices=["sqlite", "postgresql"],
                   default="sqlite")
    p.add_argument("--keep", action="store_true",
                   help="keep the temp dir (for debugging)")
    args, rest = p.parse_known_args(argv)
    if not args.server:
        p.error("--server (or CRM_SERVER_BIN) is required")
    args.server = os.path.abspath(args.server)
    args.source_dir = os.path.abspath(args.source_dir)
    return args, rest


def run(cmd, **kw):
    """Runs cmd; raises with its output on failure."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s"
                           % (r.returncode, " ".join(cmd), r.stdout))
    return r.stdout


def generate_stubs(src, out):
    """Python stubs from proto/ and from Debian's grpc-proto."""
    protos = sorted(os.path.relpath(p, os.path.join(src, "proto"))
                    for p in glob.glob(os.path.join(src, "proto/crm/v1/*.proto")))
    plugin = "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"
    os.makedirs(out, exist_ok=True)
    run(["protoc", "-I", os.path.join(src, "proto"), "-I", "/usr/include",
         "--python_out", out, "--grpc_python_out", out, plugin] + protos)
    # grpc.health.v1 / grpc.reflection.v1alpha would be generated as a Python
    # package "grpc", shadowing grpcio itself: copy the files to another
    # directory (the proto package, hence the wire names, stay the same).
    third = os.path.join(out, "protos")
    os.makedirs(os.path.join(third, "ext"))
    shutil.copy("/usr/share/grpc-proto/grpc/health/v1/health.proto",
                os.path.join(third, "ext", "health.proto"))
    shutil.copy("/usr/share/grpc-proto/grpc/reflection/v1alpha/reflection.proto",
                os.path.join(third, "ext", "reflection.proto"))
    run(["protoc", "-I", third, "--python_out", out, "--grpc_python_out", out,
         plugin, "ext/health.proto", "ext/reflection.proto"])
    sys.path.insert(0, out)
    import importlib
    for short, mod in [
            ("resources", "crm.v1.resources_pb2"),
            ("service", "crm.v1.crm_service_pb2"),
            ("service_grpc", "crm.v1.crm_service_pb2_grpc"),
            ("diag", "crm.v1.diagnostics_pb2"),
            ("diag_grpc", "crm.v1.diagnostics_pb2_grpc"),
            ("audit", "crm.v1.audit_service_pb2"),
            ("audit_grpc", "crm.v1.audit_service_pb2_grpc"),
            ("review", "crm.v1.access_review_service_pb2"),
            ("review_grpc", "crm.v1.access_review_service_pb2_grpc"),
            ("admin", "crm.v1.admin_service_pb2"),
            ("admin_grpc", "crm.v1.admin_service_pb2_grpc"),
            ("policy", "crm.v1.policy_pb2"),
            ("keys", "crm.v1.key_admin_service_pb2"),
            ("keys_grpc", "crm.v1.key_admin_service_pb2_grpc"),
            ("prov", "crm.v1.provenance_service_pb2"),
            ("prov_grpc", "crm.v1.provenance_service_pb2_grpc"),
            ("privacy", "crm.v1.privacy_service_pb2"),
            ("privacy_grpc", "crm.v1.privacy_service_pb2_grpc"),
            ("consent", "crm.v1.consent_service_pb2"),
            ("inventory", "crm.v1.data_inventory_service_pb2"),
            ("inventory_grpc", "crm.v1.data_inventory_service_pb2_grpc"),
            ("consent_grpc", "crm.v1.consent_service_pb2_grpc"),
            ("health", "ext.health_pb2"),
            ("health_grpc", "ext.health_pb2_grpc"),
            ("refl", "ext.reflection_pb2"),
            ("refl_grpc", "ext.reflection_pb2_grpc")]:
        PB[short] = importlib.import_module(mod)


def parse_conninfo(text):
    """'postgresql:host=/x port=1 user=u dbname=d' -> dict."""
    body = text.strip()
    if body.startswith("postgresql:"):
        body = body[len("postgresql:"):]
    return dict(kv.split("=", 1) for kv in body.split())


class Environment:
    """Temp dir, certificates, database, config and the server process."""

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="crm-e2e-py-")
        self.proc = None
        self.pg = None
        self.log_path = os.path.join(self.dir, "server.log")

    def setup(self):
        src = self.args.source_dir
        generate_stubs(src, os.path.join(self.dir, "stubs"))
        self.certs = os.path.join(self.dir, "certs")
        run([os.path.join(src, "certs/make-test-certs.sh"), self.certs])
        self.database = self.make_database()
        self.config_path = os.path.join(self.dir, "server.textproto")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self.start_server()

    def make_database(self):
        if self.args.database == "sqlite":
            return "sqlite:" + os.path.join(self.dir, "crm.db")
        pg_dir = os.environ.get("CRM_TEST_PG_DIR")
        if not pg_dir:
            raise RuntimeError("--database postgresql needs CRM_TEST_PG_DIR "
                               "(start one with tests/pg/pg_cluster.sh)")
        with open(os.path.join(pg_dir, "conninfo")) as f:
            info = parse_conninfo(f.read())
        name = "e2e_py_" + uuid.uuid4().hex[:12]
        self.pg = dict(info, dbname=name)
        run(["createdb", "-h", info["host"], "-p", info["port"],
             "-U", info.get("user", "postgres"), name])
        return "postgresql:" + " ".join(
            "%s=%s" % (k, v) for k, v in self.pg.items())

    def config_text(self):
        c = self.certs
        return """
listen_address: "127.0.0.1:0"
database: "%(db)s"
database_pool_size: 4
shutdown_grace_seconds: %(grace)d
tls {
  ca_file: "%(c)s/ca.pem"
  cert_file: "%(c)s/server.pem"
  key_file: "%(c)s/server.key"
  crl_directory: "%(c)s/crl"
  refresh_interval_seconds: 1
}
services {
  name: "admin-cli"
  identities: "spiffe://crm.local/svc/admin-cli"
  system_permissions: "view_audit"
  system_permissions: "manage_policy"
  system_permissions: "privacy_operations"
  grants { object: "*" read: true create: true edit: true delete: true }
}
audit {
  checkpoint_every: 2
}
encryption {
  master_key_file: "%(c)s/master.key"
}
services {
  name: "billing"
  identities: "spiffe://crm.local/svc/billing"
  grants { object: "accounts" read: true }
}
services {
  name: "campaigns"
  identities: "spiffe://crm.local/svc/campaigns"
  purpose: "marketing"
  grants { object: "contacts" read: true }
}
""" % {"db": self.database, "c": c, "grace": GRACE_SECONDS}

    def start_server(self):
        port_file = os.path.join(self.dir, "port")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.args.server, "--config=" + self.config_path,
             "--port_file=" + port_file],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + 30
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
        raise RuntimeError("crm_server did not write its port file in 30 s:\n"
                           + self.server_log())

    def server_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return "(no log)"

    def target(self):
        return "127.0.0.1:%d" % self.port

    def channel(self, identity="admin-cli", ca="ca.pem", with_cert=True):
        """A fresh mTLS channel (own subchannel pool: no connection reuse)."""
        def read(name):
            with open(os.path.join(self.certs, name), "rb") as f:
                return f.read()
        if with_cert:
            creds = grpc.ssl_channel_credentials(
                root_certificates=read(ca),
                private_key=read(identity + ".key"),
                certificate_chain=read(identity + ".pem"))
        else:
            creds = grpc.ssl_channel_credentials(root_certificates=read(ca))
        return grpc.secure_channel(
            self.target(), creds,
            options=[("grpc.use_local_subchannel_pool", 1)])

    def teardown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.pg is not None:
            subprocess.run(["dropdb", "--if-exists", "-h", self.pg["host"],
                            "-p", self.pg["port"],
                            "-U", self.pg.get("user", "postgres"),
                            self.pg["dbname"]],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("kept", self.dir)


DEADLINE = 10  # seconds per call


def code_of(fn, *a, **kw):
    """The status code of a call that is expected to fail, and its details."""
    try:
        fn(*a, timeout=DEADLINE, **kw)
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


class CrmTestCase(unittest.TestCase):
    def setUp(self):
        self.channel = ENV.channel()
        self.accounts = PB["service_grpc"].AccountServiceStub(self.channel)
        self.contacts = PB["service_grpc"].ContactServiceStub(self.channel)

    def tearDown(self):
        self.channel.close()

    def create_account(self, display_name, **fields):
        pb = PB["resources"]
        req = PB["service"].CreateAccountRequest(
            account=pb.Account(display_name=display_name, **fields))
        return self.accounts.CreateAccount(req, timeout=DEADLINE)

    def list_all(self, filter="", order_by="", page_size=0):
        svc = PB["service"]
        out, token, pages = [], "", 0
        while True:
            resp = self.accounts.ListAccounts(
                svc.ListAccountsRequest(filter=filter, order_by=order_by,
                                        page_size=page_size, page_token=token),
                timeout=DEADLINE)
            out.extend(resp.accounts)
            pages += 1
            token = resp.next_page_token
            if not token:
                return out, pages
            self.assertLess(pages, 1000, "paging does not terminate")


class AccountCrudTest(CrmTestCase):
    def test_create_get_update_delete(self):
        svc = PB["service"]
        created = self.create_account("Py Ltd", industry="Retail",
                                      employee_count=12, billing_country="GB")
        self.assertRegex(created.name, r"^accounts/[^/]+$")
        self.assertTrue(created.etag)
        self.assertEqual(created.owner, "services/admin-cli")
        self.assertEqual(created.source, "services/admin-cli")
        self.assertGreater(created.create_time.seconds, 0)

        got = self.accounts.GetAccount(svc.GetAccountRequest(name=created.name),
                                       timeout=DEADLINE)
        self.assertEqual(got, created)

        # Update two fields with a FieldMask and the current etag; the field
        # not named keeps its value, the one named but unset is cleared.
        upd = PB["resources"].Account(name=created.name, etag=created.etag,
                                      phone="+44 1", employee_count=0)
        req = svc.UpdateAccountRequest(account=upd)
        req.update_mask.paths.extend(["phone", "employee_count"])
        updated = self.accounts.UpdateAccount(req, timeout=DEADLINE)
        self.assertEqual(updated.phone, "+44 1")
        self.assertEqual(updated.employee_count, 0)
        self.assertEqual(updated.industry, "Retail")
        self.assertNotEqual(updated.etag, created.etag)
        self.assertGreaterEqual(
            updated.update_time.ToNanoseconds(),
            created.update_time.ToNanoseconds())

        # A stale etag: ABORTED, nothing changes.
        stale = svc.UpdateAccountRequest(account=PB["resources"].Account(
            name=created.name, etag=created.etag, phone="+44 2"))
        stale.update_mask.paths.append("phone")
        code, details = code_of(self.accounts.UpdateAccount, stale)
        self.assertEqual(code, grpc.StatusCode.ABORTED, details)
        code, _ = code_of(self.accounts.DeleteAccount,
                          svc.DeleteAccountRequest(name=created.name,
                                                   etag=created.etag))
        self.assertEqual(code, grpc.StatusCode.ABORTED)
        again = self.accounts.GetAccount(svc.GetAccountRequest(name=created.name),
                                         timeout=DEADLINE)
        self.assertEqual(again.phone, "+44 1")
        self.assertEqual(again.etag, updated.etag)

        # Delete with the current etag; then it is gone.
        self.accounts.DeleteAccount(
            svc.DeleteAccountRequest(name=created.name, etag=updated.etag),
            timeout=DEADLINE)
        code, _ = code_of(self.accounts.GetAccount,
                          svc.GetAccountRequest(name=created.name))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        code, _ = code_of(self.accounts.DeleteAccount,
                          svc.DeleteAccountRequest(name=created.name))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)

    def test_output_only_fields_are_ignored_on_create(self):
        created = self.create_account("Ignored Ltd", owner="users/evil",
                                      etag="v999", source="services/evil")
        self.assertEqual(created.owner, "services/admin-cli")
        self.assertEqual(created.source, "services/admin-cli")
        self.assertNotEqual(created.etag, "v999")

    def test_not_found(self):
        svc = PB["service"]
        code, details = code_of(self.accounts.GetAccount,
                                svc.GetAccountRequest(name="accounts/nope"))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND, details)

    def test_invalid_arguments(self):
        svc, pb = PB["service"], PB["resources"]
        bad_mask = svc.UpdateAccountRequest(
            account=pb.Account(name=self.create_account("Mask Ltd").name))
        bad_mask.update_mask.paths.append("no_such_field")
        out_only = svc.UpdateAccountRequest(
            account=pb.Account(name=bad_mask.account.name))
        out_only.update_mask.paths.append("owner")
        cases = [
            ("malformed name", self.accounts.GetAccount,
             svc.GetAccountRequest(name="contacts/x/y")),
            ("empty name", self.accounts.GetAccount, svc.GetAccountRequest()),
            ("missing required field", self.accounts.CreateAccount,
             svc.CreateAccountRequest(account=pb.Account(industry="x"))),
            ("over-long field", self.accounts.CreateAccount,
             svc.CreateAccountRequest(account=pb.Account(
                 display_name="x", billing_country="GBR"))),
            ("unknown mask field", self.accounts.UpdateAccount, bad_mask),
            ("output-only mask field", self.accounts.UpdateAccount, out_only),
            ("bad filter", self.accounts.ListAccounts,
             svc.ListAccountsRequest(filter="display_name = ")),
            ("unknown filter field", self.accounts.ListAccounts,
             svc.ListAccountsRequest(filter='nope = "x"')),
            ("over-long filter", self.accounts.ListAccounts,
             svc.ListAccountsRequest(filter='display_name = "%s"' % ("x" * 3000))),
            ("bad order_by", self.accounts.ListAccounts,
             svc.ListAccountsRequest(order_by="nope desc")),
            ("page_size too large", self.accounts.ListAccounts,
             svc.ListAccountsRequest(page_size=100000)),
            ("garbage page token", self.accounts.ListAccounts,
             svc.ListAccountsRequest(page_token="not-a-token")),
        ]
        for label, method, req in cases:
            with self.subTest(label):
                code, details = code_of(method, req)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT,
                                 "%s: %s" % (label, details))
                self.assertTrue(details, "%s: empty error message" % label)


class ListTest(CrmTestCase):
    @classmethod
    def setUpClass(cls):
        # A batch with a unique industry, so other tests' records don't count.
        cls.tag = "Py-" + uuid.uuid4().hex[:8]
        channel = ENV.channel()
        stub = PB["service_grpc"].AccountServiceStub(channel)
        for i in range(23):
            stub.CreateAccount(PB["service"].CreateAccountRequest(
                account=PB["resources"].Account(
                    display_name="List %02d" % i, industry=cls.tag,
                    employee_count=i * 10)), timeout=DEADLINE)
        channel.close()

    def test_filter_and_order(self):
        got, _ = self.list_all(
            filter='industry = "%s" AND employee_count >= 100' % self.tag,
            order_by="employee_count desc")
        self.assertEqual([a.employee_count for a in got],
                         list(range(220, 90, -10)))
        got, _ = self.list_all(
            filter='industry = "%s" AND (display_name = "List 01" OR '
                   'NOT employee_count > 20)' % self.tag,
            order_by="display_name")
        self.assertEqual([a.display_name for a in got],
                         ["List 00", "List 01", "List 02"])

    def test_paging_with_tokens(self):
        f = 'industry = "%s"' % self.tag
        got, pages = self.list_all(filter=f, order_by="display_name",
                                   page_size=5)
        self.assertEqual(pages, 5)
        self.assertEqual([a.display_name for a in got],
                         ["List %02d" % i for i in range(23)])

    def test_token_is_stable_under_inserts(self):
        svc = PB["service"]
        f = 'industry = "%s"' % self.tag
        first = self.accounts.ListAccounts(
            svc.ListAccountsRequest(filter=f, order_by="display_name",
                                    page_size=10), timeout=DEADLINE)
        # Inserted before the cursor (sorts first) and after it (sorts last).
        a = self.create_account("List !", industry=self.tag + "x")
        try:
            rest, token = [], first.next_page_token
            while token:
                resp = self.accounts.ListAccounts(
                    svc.ListAccountsRequest(filter=f, order_by="display_name",
                                            page_size=10, page_token=token),
                    timeout=DEADLINE)
                rest.extend(resp.accounts)
                token = resp.next_page_token
            names = [x.display_name for x in list(first.accounts) + rest]
            self.assertEqual(names, ["List %02d" % i for i in range(23)])
        finally:
            self.accounts.DeleteAccount(svc.DeleteAccountRequest(name=a.name),
                                        timeout=DEADLINE)

    def test_token_bound_to_filter(self):
        svc = PB["service"]
        f = 'industry = "%s"' % self.tag
        first = self.accounts.ListAccounts(
            svc.ListAccountsRequest(filter=f, page_size=5), timeout=DEADLINE)
        self.assertTrue(first.next_page_token)
        for label, req in [
                ("other filter", svc.ListAccountsRequest(
                    filter=f + " AND employee_count > 1", page_size=5,
                    page_token=first.next_page_token)),
                ("other order_by", svc.ListAccountsRequest(
                    filter=f, order_by="display_name", page_size=5,
                    page_token=first.next_page_token)),
                ("tampered", svc.ListAccountsRequest(
                    filter=f, page_size=5,
                    page_token=first.next_page_token[:-2] + (
                        "AA" if not first.next_page_token.endswith("AA")
                        else "BB")))]:
            with self.subTest(label):
                code, details = code_of(self.accounts.ListAccounts, req)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT,
                                 "%s: %s" % (label, details))


class ContactTest(CrmTestCase):
    def test_contact_referencing_account(self):
        svc, pb = PB["service"], PB["resources"]
        account = self.create_account("Contact Holder Ltd")
        contact = self.contacts.CreateContact(svc.CreateContactRequest(
            contact=pb.Contact(first_name="Ada", last_name="Lovelace",
                               email="ada@example.org", account=account.name)),
            timeout=DEADLINE)
        self.assertRegex(contact.name, r"^contacts/[^/]+$")
        self.assertEqual(contact.account, account.name)
        got = self.contacts.GetContact(svc.GetContactRequest(name=contact.name),
                                       timeout=DEADLINE)
        self.assertEqual(got.last_name, "Lovelace")
        listed = self.contacts.ListContacts(svc.ListContactsRequest(
            filter='account = "%s"' % account.name), timeout=DEADLINE)
        self.assertEqual([c.name for c in listed.contacts], [contact.name])

        upd = svc.UpdateContactRequest(contact=pb.Contact(
            name=contact.name, etag=contact.etag, title="Countess"))
        upd.update_mask.paths.append("title")
        updated = self.contacts.UpdateContact(upd, timeout=DEADLINE)
        self.assertEqual(updated.title, "Countess")
        self.assertEqual(updated.account, account.name)

        self.contacts.DeleteContact(
            svc.DeleteContactRequest(name=contact.name, etag=updated.etag),
            timeout=DEADLINE)
        code, _ = code_of(self.contacts.GetContact,
                          svc.GetContactRequest(name=contact.name))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)

    def test_bad_references(self):
        svc, pb = PB["service"], PB["resources"]
        for label, ref in [("malformed", "not a name"),
                           ("wrong collection", "contacts/abc")]:
            with self.subTest(label):
                code, details = code_of(
                    self.contacts.CreateContact,
                    svc.CreateContactRequest(contact=pb.Contact(
                        last_name="X", account=ref)))
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT,
                                 "%s: %s" % (label, details))
        # A well-formed name of a record that does not exist is refused too
        # (existence is checked at write time); nothing is written.
        tag = "Ghost-" + uuid.uuid4().hex[:8]
        code, details = code_of(
            self.contacts.CreateContact,
            svc.CreateContactRequest(contact=pb.Contact(
                last_name=tag, account="accounts/does-not-exist")))
        self.assertIn(code, (grpc.StatusCode.INVALID_ARGUMENT,
                             grpc.StatusCode.FAILED_PRECONDITION,
                             grpc.StatusCode.NOT_FOUND), details)
        listed = self.contacts.ListContacts(svc.ListContactsRequest(
            filter='last_name = "%s"' % tag), timeout=DEADLINE)
        self.assertEqual(len(listed.contacts), 0)


def canonical_encoding(e):
    """audit/chain.h's canonical encoding, written from its comment alone."""
    out = bytearray(b"crm-audit-v1")

    def item(value):
        data = value if isinstance(value, bytes) else str(value).encode()
        out.extend(len(data).to_bytes(8, "big"))
        out.extend(data)

    def optional(present, value):
        item(("1" + value) if present else "0")

    audit = PB["audit"]
    item(e.sequence)
    item(e.time.seconds * 1000000 + e.time.nanos // 1000)
    for value in (e.request_id, e.actor_user, e.actor_service, e.action,
                  e.resource, audit.AuditOutcome.Name(e.outcome), e.reason,
                  e.client_address, e.country, e.previous_hash):
        item(value)
    item(len(e.changes))
    for c in e.changes:
        item(c.field)
        optional(c.HasField("before"), c.before)
        optional(c.HasField("after"), c.after)
        item("1" if c.values_recorded else "0")
    item(len(e.attributes))
    for key in sorted(e.attributes, key=lambda k: k.encode()):
        item(key)
        item(e.attributes[key])
    return bytes(out)


class AccessReportTest(unittest.TestCase):
    """The access-review reports from Python: the streamed matrix has one
    row per user of the report, every row the same columns, and a
    least-privileged service is refused both."""

    def test_matrix_and_report_agree(self):
        review = PB["review"]
        with ENV.channel() as ch:
            stub = PB["review_grpc"].AccessReviewServiceStub(ch)
            report = stub.GetAccessReviewReport(
                review.GetAccessReviewReportRequest(dormant_days=30),
                timeout=DEADLINE)
            rows = [row for chunk in stub.ExportAccessMatrix(
                        review.ExportAccessMatrixRequest(chunk_size=1),
                        timeout=DEADLINE)
                    for row in chunk.rows]
        self.assertEqual(len(rows), report.total_users)
        self.assertEqual(sum(1 for r in rows if r.active), report.active_users)
        self.assertEqual(report.dormant_days, 30)
        if rows:
            columns = [c.object for c in rows[0].objects]
            self.assertIn("accounts", columns)
            for row in rows:
                self.assertEqual([c.object for c in row.objects], columns)
                self.assertTrue(row.user.startswith("users/"), row.user)
        with ENV.channel("billing") as ch:
            stub = PB["review_grpc"].AccessReviewServiceStub(ch)
            self.assertEqual(
                code_of(stub.GetAccessReviewReport,
                        review.GetAccessReviewReportRequest())[0],
                grpc.StatusCode.PERMISSION_DENIED)


class PolicyAsCodeTest(unittest.TestCase):
    """Policy bundles from Python: an applied bundle is a new version with
    its message, applying it again changes nothing, the version's files are
    what was applied, a stale expected version and an invalid bundle are
    refused with actionable details, and a least-privileged service may not
    plan."""

    BUNDLE = {
        "roles/py-top.textproto": 'display_name: "Py Top"\n',
        "roles/py-rep.textproto":
            'display_name: "Py Rep"\nparent: "roles/py-top"\n',
        "sharingRules/py-retail.textproto":
            'object: "accounts"\ncriteria: "industry = \\"Retail\\""\n'
            'shared_with { role: "roles/py-rep" }\naccess: READ\n',
    }

    def test_plan_apply_history(self):
        admin = PB["admin"]
        files = admin.PolicyBundleFiles(files=self.BUNDLE)
        with ENV.channel() as ch:
            stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            plan = stub.PlanPolicy(admin.PlanPolicyRequest(bundle=files),
                                   timeout=DEADLINE)
            self.assertFalse(plan.no_change)
            self.assertEqual(sorted(c.name for c in plan.changes),
                             sorted(n[:-len(".textproto")] for n in self.BUNDLE))
            applied, call = stub.ApplyPolicy.with_call(
                admin.ApplyPolicyRequest(
                    bundle=files, expect_version=plan.base_version,
                    message="from python"), timeout=DEADLINE)
            self.assertTrue(applied.changed)
            self.assertEqual(applied.version, plan.base_version + 1)
            # The consistency token: the version this answer was made with,
            # and a request may demand at least a version it has seen.
            token = dict(call.trailing_metadata())["x-crm-policy-version"]
            self.assertEqual(token, str(applied.version))
            stub.ListPolicyVersions(
                admin.ListPolicyVersionsRequest(page_size=1), timeout=DEADLINE,
                metadata=(("x-crm-min-policy-version", token),))
            code, details = code_of(
                stub.ListPolicyVersions, admin.ListPolicyVersionsRequest(),
                metadata=(("x-crm-min-policy-version", "999999999"),))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("does not exist", details)
            again = stub.ApplyPolicy(admin.ApplyPolicyRequest(bundle=files),
                                     timeout=DEADLINE)
            self.assertFalse(again.changed)
            self.assertEqual(again.version, applied.version)
            code, details = code_of(stub.ApplyPolicy, admin.ApplyPolicyRequest(
                bundle=files, expect_version=plan.base_version))
            self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("plan", details)
            versions = stub.ListPolicyVersions(
                admin.ListPolicyVersionsRequest(page_size=5), timeout=DEADLINE)
            top = versions.versions[0]
            self.assertEqual(top.version, applied.version)
            self.assertEqual(top.message, "from python")
            self.assertEqual(top.method, "PolicyAdminService/ApplyPolicy")
            self.assertEqual(top.actor_service, "services/admin-cli")
            got = stub.GetPolicyVersion(
                admin.GetPolicyVersionRequest(version=applied.version),
                timeout=DEADLINE)
            for path, text in self.BUNDLE.items():
                self.assertIn(path, got.bundle.files)
            diff = stub.DiffPolicyVersions(admin.DiffPolicyVersionsRequest(
                from_version=plan.base_version, to_version=applied.version),
                timeout=DEADLINE)
            self.assertEqual(len(diff.changes), len(self.BUNDLE))
            bad = dict(self.BUNDLE)
            bad["roles/py-rep.textproto"] = 'parent: "roles/nope"\n'
            bad["groups/py-g.textproto"] = 'members { user: "users/ghost" }\n'
            code, details = code_of(stub.PlanPolicy, admin.PlanPolicyRequest(
                bundle=admin.PolicyBundleFiles(files=bad)))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("roles/py-rep.textproto", details)
        with ENV.channel("billing") as ch:
            stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            self.assertEqual(code_of(stub.PlanPolicy, admin.PlanPolicyRequest(
                bundle=files))[0], grpc.StatusCode.PERMISSION_DENIED)

    def test_service_scopes_are_listed_read_only(self):
        """A service's own scope (from the server's configuration) is listed
        with the policy, cannot be written through the API, and a bundle
        that changes it is refused naming the file and field."""
        admin = PB["admin"]
        with ENV.channel() as ch:
            stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            listed = stub.ListPolicyObjects(
                admin.ListPolicyObjectsRequest(kind="services"),
                timeout=DEADLINE)
            scopes = {o.service.name: o.service for o in listed.objects}
            self.assertIn("services/billing", scopes)
            self.assertTrue(scopes["services/billing"].object_permissions)
            code, details = code_of(stub.DeletePolicyObject,
                                    admin.DeletePolicyObjectRequest(
                                        name="services/billing"))
            self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("read-only", details)
            # The scope as exported, plus a grant: refused, nothing written.
            billing = scopes["services/billing"]
            billing.ClearField("name")
            grant = billing.object_permissions.add()
            grant.object = "contacts"
            grant.delete = True
            from google.protobuf import text_format
            files = admin.PolicyBundleFiles(files={
                "services/billing.textproto":
                    text_format.MessageToString(billing)})
            code, details = code_of(stub.ApplyPolicy,
                                    admin.ApplyPolicyRequest(bundle=files))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("services/billing.textproto", details)
            self.assertIn("differs from this server's configuration", details)

    def test_shadow_policy(self):
        """A candidate giving billing view_audit, set as a shadow policy:
        billing is still refused (never enforced), the refusal is counted as
        a disagreement, and clearing stops it."""
        admin = PB["admin"]
        audit = PB["audit"]
        files = admin.PolicyBundleFiles(files={
            "permissionSets/py-shadow.textproto":
                'display_name: "Py shadow"\nsystem_permissions: VIEW_AUDIT\n'
                'assignees: "services/billing"\n'})
        with ENV.channel() as ch:
            stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            st = stub.SetShadowPolicy(admin.SetShadowPolicyRequest(
                bundle=files, message="py"), timeout=DEADLINE)
            self.assertTrue(st.active)
            self.assertEqual([c.name for c in st.changes],
                             ["permissionSets/py-shadow"])
            revision = st.revision
        try:
            with ENV.channel("billing") as ch:
                code, details = code_of(
                    PB["audit_grpc"].AuditServiceStub(ch).ListAuditEvents,
                    audit.ListAuditEventsRequest(page_size=1))
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
            with ENV.channel() as ch:
                stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
                st = stub.GetShadowPolicy(admin.GetShadowPolicyRequest(),
                                          timeout=DEADLINE)
                self.assertGreaterEqual(st.disagreements, 1)
                self.assertGreaterEqual(st.calls_with_disagreements, 1)
        finally:
            with ENV.channel() as ch:
                stub = PB["admin_grpc"].PolicyAdminServiceStub(ch)
                st = stub.ClearShadowPolicy(admin.ClearShadowPolicyRequest(
                    expect_revision=revision), timeout=DEADLINE)
                self.assertFalse(st.active)


class KeyAdminTest(unittest.TestCase):
    """Data key rotation from Python (key_admin_service.proto): the status
    names the current key and what is not under it, a rotation makes a new
    key and re-encrypts a contact's personal_phone (which still reads), a
    request without a mode and a least-privileged service are refused."""

    def test_status_rotate_and_refusals(self):
        keys, svc, pb = PB["keys"], PB["service"], PB["resources"]
        admin = PB["admin"]
        with ENV.channel() as ch:
            policy = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            # admin-cli may write the sensitive field (none may by default).
            policy.CreatePolicyObject(admin.CreatePolicyObjectRequest(
                id="py-keys", object=admin.PolicyObject(
                    permission_set=PB["policy"].PermissionSet(
                        field_permissions=[PB["policy"].FieldPermission(
                            object="contacts", field="personal_phone",
                            read=True, edit=True)],
                        assignees=["services/admin-cli"]))),
                timeout=DEADLINE)
            try:
                stub = PB["keys_grpc"].KeyAdminServiceStub(ch)
                contacts = PB["service_grpc"].ContactServiceStub(ch)
                c = contacts.CreateContact(svc.CreateContactRequest(
                    contact=pb.Contact(last_name="Py Keys",
                                       personal_phone="+1 555 0142")),
                    timeout=DEADLINE)
                before = stub.GetKeyStatus(keys.GetKeyStatusRequest(),
                                           timeout=DEADLINE)
                self.assertTrue(before.current_data_key.startswith("dk"))
                self.assertIn(before.current_data_key,
                              [k.id for k in before.data_keys if k.current])
                fields = [v.field for v in before.stale]
                self.assertIn("contacts.personal_phone", fields)
                self.assertEqual(before.stale_total, 0)
                rotated = stub.RotateDataKey(keys.RotateDataKeyRequest(
                    mode=keys.RotateDataKeyRequest.NEW_KEY, batch_size=10),
                    timeout=60)
                self.assertEqual(rotated.previous_data_key,
                                 before.current_data_key)
                self.assertNotEqual(rotated.data_key, before.current_data_key)
                self.assertGreaterEqual(rotated.reencrypted_total, 1)
                after = stub.GetKeyStatus(keys.GetKeyStatusRequest(),
                                          timeout=DEADLINE)
                self.assertEqual(after.current_data_key, rotated.data_key)
                self.assertEqual(len(after.data_keys),
                                 len(before.data_keys) + 1)
                self.assertEqual(after.stale_total, 0)
                got = contacts.GetContact(svc.GetContactRequest(name=c.name),
                                          timeout=DEADLINE)
                self.assertEqual(got.personal_phone, "+1 555 0142")
                code, details = code_of(stub.RotateDataKey,
                                        keys.RotateDataKeyRequest())
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("mode", details)
                contacts.DeleteContact(svc.DeleteContactRequest(name=c.name),
                                       timeout=DEADLINE)
            finally:
                policy.DeletePolicyObject(admin.DeletePolicyObjectRequest(
                    name="permissionSets/py-keys"), timeout=DEADLINE)
        with ENV.channel("billing") as ch:
            stub = PB["keys_grpc"].KeyAdminServiceStub(ch)
            for call, req in [(stub.GetKeyStatus, keys.GetKeyStatusRequest()),
                              (stub.RotateDataKey, keys.RotateDataKeyRequest(
                                  mode=keys.RotateDataKeyRequest.NEW_KEY))]:
                code, details = code_of(call, req)
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
                self.assertIn("manage_policy is required", details)


class AuditTrailTest(unittest.TestCase):
    """The audit trail as a SIEM or an auditor's own tool sees it: the
    refusal of a least-privileged service is recorded with its rule, and the
    export's hash chain and signed checkpoints verify with nothing but the
    documented encoding and the server's public key."""

    def test_refusal_is_recorded_and_the_export_verifies(self):
        import hashlib
        audit = PB["audit"]
        with ENV.channel("billing") as ch:  # accounts: read only
            accounts = PB["service_grpc"].AccountServiceStub(ch)
            req = PB["service"].CreateAccountRequest(
                account=PB["resources"].Account(display_name="Not allowed"))
            self.assertEqual(code_of(accounts.CreateAccount, req)[0],
                             grpc.StatusCode.PERMISSION_DENIED)
            stub = PB["audit_grpc"].AuditServiceStub(ch)
            self.assertEqual(code_of(stub.ListAuditEvents,
                                     audit.ListAuditEventsRequest())[0],
                             grpc.StatusCode.PERMISSION_DENIED,
                             "billing has no view_audit")
        with ENV.channel() as ch:
            stub = PB["audit_grpc"].AuditServiceStub(ch)
            # A refusal's event is queued without making the refused caller
            # wait: list until it is there (a condition, up to a minute).
            for _ in range(600):
                found = stub.ListAuditEvents(audit.ListAuditEventsRequest(
                    filter='actor_service = "services/billing" AND outcome = DENIED'),
                    timeout=DEADLINE).events
                actions = {e.action: e for e in found}
                if ("crm.v1.AccountService/CreateAccount" in actions
                        and "audit.list" in actions):
                    break
                time.sleep(0.1)
            refused = actions.get("crm.v1.AccountService/CreateAccount")
            self.assertIsNotNone(refused, [e.action for e in found])
            self.assertTrue(refused.reason.startswith("object:"), refused.reason)
            self.assertIn("audit.list", actions)

            key = stub.GetAuditPublicKey(audit.GetAuditPublicKeyRequest(),
                                         timeout=DEADLINE)
            # Checkpoints are signed in the background: wait for one.
            for _ in range(100):
                lines = list(stub.ExportAuditEvents(
                    audit.ExportAuditEventsRequest(), timeout=DEADLINE))
                if any(l.HasField("checkpoint") for l in lines):
                    break
                time.sleep(0.1)
        previous = "0" * 64
        sequence = 0
        hashes = {}
        for line in lines:
            if line.HasField("event"):
                e = line.event
                self.assertEqual(e.sequence, sequence + 1)
                self.assertEqual(e.previous_hash, previous)
                self.assertEqual(hashlib.sha256(canonical_encoding(e)).hexdigest(),
                                 e.hash, "event %d" % e.sequence)
                previous, sequence = e.hash, e.sequence
                hashes[sequence] = e.hash
        self.assertGreater(sequence, 2)
        try:
            from cryptography.hazmat.primitives.serialization import (
                load_pem_public_key)
        except ImportError:  # python3-cryptography (scripts/install-deps.sh)
            self.skipTest("python3-cryptography is not installed")
        public = load_pem_public_key(key.public_key_pem.encode())
        checkpoints = [l.checkpoint for l in lines if l.HasField("checkpoint")]
        self.assertTrue(checkpoints, "no checkpoint was signed")
        for c in checkpoints:
            message = "crm-audit-checkpoint-v1\n%d\n%s\n%d" % (
                c.sequence, c.hash, c.time.seconds * 1000000 + c.time.nanos // 1000)
            public.verify(bytes.fromhex(c.signature), message.encode())
            self.assertEqual(c.hash, hashes[c.sequence])


class TransportTest(unittest.TestCase):
    def echo(self, channel):
        stub = PB["diag_grpc"].DiagnosticsServiceStub(channel)
        return stub.Echo(PB["diag"].EchoRequest(payload=b"hi"),
                         timeout=DEADLINE)

    def test_echo_names_the_caller(self):
        with ENV.channel("billing") as ch:
            resp = self.echo(ch)
        self.assertEqual(resp.payload, b"hi")
        self.assertEqual(resp.caller, "services/billing")

    def test_no_client_certificate_is_refused(self):
        with ENV.channel(with_cert=False) as ch:
            stub = PB["service_grpc"].AccountServiceStub(ch)
            code, details = code_of(stub.ListAccounts,
                                    PB["service"].ListAccountsRequest())
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)

    def test_certificate_from_another_ca_is_refused(self):
        with ENV.channel("foreign") as ch:
            stub = PB["service_grpc"].AccountServiceStub(ch)
            code, details = code_of(stub.ListAccounts,
                                    PB["service"].ListAccountsRequest())
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)

    def test_expired_certificate_is_refused(self):
        with ENV.channel("expired") as ch:
            code, details = code_of(self.echo_call(ch))
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)

    def echo_call(self, ch):
        stub = PB["diag_grpc"].DiagnosticsServiceStub(ch)
        return lambda timeout: stub.Echo(PB["diag"].EchoRequest(),
                                         timeout=timeout)

    def test_unregistered_identity_is_unauthenticated(self):
        with ENV.channel("unregistered") as ch:
            stub = PB["service_grpc"].AccountServiceStub(ch)
            code, details = code_of(stub.ListAccounts,
                                    PB["service"].ListAccountsRequest())
            self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED, details)
            code, details = code_of(self.echo_call(ch))
            self.assertEqual(code, grpc.StatusCode.UNAUTHENTICATED, details)

    def test_grant_limits_a_registered_service(self):
        with ENV.channel("billing") as ch:
            stub = PB["service_grpc"].AccountServiceStub(ch)
            code, details = code_of(stub.CreateAccount,
                                    PB["service"].CreateAccountRequest(
                                        account=PB["resources"].Account(
                                            display_name="Nope")))
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, details)
            stub.ListAccounts(PB["service"].ListAccountsRequest(),
                              timeout=DEADLINE)

    def test_health_serving(self):
        with ENV.channel() as ch:
            stub = PB["health_grpc"].HealthStub(ch)
            resp = stub.Check(PB["health"].HealthCheckRequest(service=""),
                              timeout=DEADLINE)
        self.assertEqual(resp.status, PB["health"].HealthCheckResponse.SERVING)

    def test_reflection_lists_services(self):
        with ENV.channel() as ch:
            stub = PB["refl_grpc"].ServerReflectionStub(ch)
            reqs = iter([
                PB["refl"].ServerReflectionRequest(list_services=""),
                PB["refl"].ServerReflectionRequest(
                    file_containing_symbol="crm.v1.AccountService")])
            responses = list(stub.ServerReflectionInfo(reqs, timeout=DEADLINE))
        names = {s.name for s in
                 responses[0].list_services_response.service}
        for want in ["crm.v1.AccountService", "crm.v1.ContactService",
                     "crm.v1.LeadService", "crm.v1.OpportunityService",
                     "crm.v1.CaseService", "crm.v1.ActivityService",
                     "grpc.health.v1.Health"]:
            self.assertIn(want, names)
        files = responses[1].file_descriptor_response.file_descriptor_proto
        self.assertTrue(files, "no descriptor for crm.v1.AccountService")
        from google.protobuf import descriptor_pb2
        fd = descriptor_pb2.FileDescriptorProto.FromString(files[0])
        self.assertEqual(fd.name, "crm/v1/crm_service.proto")


class DataSourceTest(unittest.TestCase):
    """Data sources and provenance (issue 13) from a foreign client: an
    illegitimate kind is refused by name; once a source is registered, a
    field no source of the caller lists is refused and nothing is written;
    provenance and history are readable. Runs after the other policy tests
    and removes its source (registering one turns enforcement on)."""

    def test_sources_enforced_and_provenance_readable(self):
        admin, pol = PB["admin"], PB["policy"]
        svc, res, prov = PB["service"], PB["resources"], PB["prov"]
        with ENV.channel() as ch:
            policy = PB["admin_grpc"].PolicyAdminServiceStub(ch)
            contacts = PB["service_grpc"].ContactServiceStub(ch)
            provenance = PB["prov_grpc"].ProvenanceServiceStub(ch)
            bad = admin.PolicyObject(data_source=pol.DataSource(
                kind=pol.CUSTOMER_DEVICES, service="services/admin-cli",
                writes=[pol.DataSourceWrite(object="contacts")]))
            code, details = code_of(policy.CreatePolicyObject,
                                    admin.CreatePolicyObjectRequest(
                                        id="laptops", object=bad))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("CUSTOMER_DEVICES", details)
            self.assertIn("not a legitimate data source", details)
            good = admin.PolicyObject(data_source=pol.DataSource(
                display_name="Staff", kind=pol.INTERACTIONS,
                service="services/admin-cli", purpose="staff notes",
                writes=[pol.DataSourceWrite(object="contacts",
                                            fields=["last_name", "title"])]))
            policy.CreatePolicyObject(admin.CreatePolicyObjectRequest(
                id="py-staff", object=good), timeout=DEADLINE)
            try:
                c = contacts.CreateContact(svc.CreateContactRequest(
                    contact=res.Contact(last_name="Curie", title="Dr")),
                    timeout=DEADLINE)
                p = provenance.GetRecordProvenance(
                    prov.GetRecordProvenanceRequest(record=c.name),
                    timeout=DEADLINE)
                fields = {f.field: f for f in p.fields}
                self.assertEqual(set(fields), {"last_name", "title"})
                self.assertEqual(fields["title"].source, "dataSources/py-staff")
                self.assertEqual(fields["title"].service, "services/admin-cli")
                self.assertTrue(fields["title"].request_id)
                req = svc.UpdateContactRequest(
                    contact=res.Contact(name=c.name, email="m@example.com"))
                req.update_mask.paths.append("email")
                code, details = code_of(contacts.UpdateContact, req)
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
                self.assertIn("contacts.email", details)
                got = contacts.GetContact(svc.GetContactRequest(name=c.name),
                                          timeout=DEADLINE)
                self.assertEqual(got.email, "")
                self.assertEqual(got.etag, c.etag)
                h = provenance.ListFieldHistory(
                    prov.ListFieldHistoryRequest(record=c.name, field="title"),
                    timeout=DEADLINE)
                self.assertEqual([(x.value, x.operation) for x in h.changes],
                                 [("Dr", "create")])
                code, _ = code_of(provenance.GetRecordProvenance,
                                  prov.GetRecordProvenanceRequest(
                                      record="contacts/doesnotexist"))
                self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
            finally:
                policy.DeletePolicyObject(admin.DeletePolicyObjectRequest(
                    name="dataSources/py-staff"), timeout=DEADLINE)


class PrivacyTest(unittest.TestCase):
    """Subject requests (issue 13) from a foreign client: the export is one
    JSON document; a service without privacy_operations is refused; an
    erasure's receipt verifies with an independent Ed25519 implementation
    (python3-cryptography) over its statement; a second erasure is a no-op;
    a retention dry run answers; the data inventory answers, and is refused
    to billing."""

    def test_export_erase_and_receipt(self):
        import json
        svc, res, pv = PB["service"], PB["resources"], PB["privacy"]
        email = "py-subject-%d@example.com" % os.getpid()
        with ENV.channel() as ch:
            contacts = PB["service_grpc"].ContactServiceStub(ch)
            activities = PB["service_grpc"].ActivityServiceStub(ch)
            privacy = PB["privacy_grpc"].PrivacyServiceStub(ch)
            c = contacts.CreateContact(svc.CreateContactRequest(
                contact=res.Contact(last_name="Noether", email=email)),
                timeout=DEADLINE)
            activities.CreateActivity(svc.CreateActivityRequest(
                activity=res.Activity(kind=res.Activity.CALL,
                                      subject="py call", regarding=c.name)),
                timeout=DEADLINE)
            out = privacy.ExportSubject(
                pv.ExportSubjectRequest(subject=email.upper()),
                timeout=DEADLINE)
            doc = json.loads(out.document)
            self.assertEqual(doc["subject"], out.subject)
            self.assertEqual([r["name"] for r in doc["records"]["contacts"]],
                             [c.name])
            self.assertEqual(len(doc["records"]["activities"]), 1)
            self.assertIn(c.name, doc["provenance"])
            self.assertEqual(out.record_counts["activities"], 1)
            with ENV.channel("billing") as other:
                code, details = code_of(
                    PB["privacy_grpc"].PrivacyServiceStub(other).ExportSubject,
                    pv.ExportSubjectRequest(subject=email))
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
                self.assertIn("privacy_operations", details)
            erased = privacy.EraseSubject(
                pv.EraseSubjectRequest(subject=email), timeout=DEADLINE)
            r = erased.receipt
            self.assertFalse(erased.already_erased)
            self.assertEqual({x.record for x in r.records}, {
                c.name, doc["records"]["activities"][0]["name"]})
            from cryptography.hazmat.primitives.serialization import (
                load_pem_public_key)
            key = load_pem_public_key(r.public_key_pem.encode())
            key.verify(bytes.fromhex(r.signature), r.statement.encode())
            self.assertIn('"subject":"%s"' % r.subject, r.statement)
            self.assertNotIn(email, r.statement)
            from cryptography.exceptions import InvalidSignature
            with self.assertRaises(InvalidSignature):
                key.verify(bytes.fromhex(r.signature),
                           r.statement.replace("ANONYMIZED", "DELETED")
                           .encode())
            again = privacy.EraseSubject(
                pv.EraseSubjectRequest(subject=c.name), timeout=DEADLINE)
            self.assertTrue(again.already_erased)
            self.assertEqual(again.receipt.name, r.name)
            got = contacts.GetContact(svc.GetContactRequest(name=c.name),
                                      timeout=DEADLINE)
            self.assertEqual(got.email, "")
            self.assertEqual(got.last_name, "[erased]")
            report = privacy.PreviewRetention(pv.PreviewRetentionRequest(),
                                              timeout=DEADLINE)
            self.assertEqual(len(report.rules), 0)  # none configured here

    def test_data_inventory(self):
        """What we hold and why: per object and field, from the server's
        policy and schema; deny by default (billing is refused)."""
        inv = PB["inventory"]
        with ENV.channel() as ch:
            report = PB["inventory_grpc"].DataInventoryServiceStub(
                ch).GetDataInventory(inv.GetDataInventoryRequest(),
                                     timeout=DEADLINE)
            self.assertGreater(report.policy_version, 0)
            self.assertGreater(report.generate_time.seconds, 0)
            objects = {o.object: o for o in report.objects}
            self.assertIn("contacts", objects)
            fields = {f.name: f for f in objects["contacts"].fields}
            pe = fields["personal_email"]
            self.assertTrue(pe.personal and pe.encrypted_at_rest
                            and pe.blind_index)
            self.assertEqual(pe.consent_channel, "email")
            self.assertTrue(fields["create_time"].server_set)
            self.assertEqual(report.total_fields,
                             sum(len(o.fields) for o in report.objects))
            self.assertEqual(report.flagged_fields,
                             sum(o.flagged_fields for o in report.objects))
            only = PB["inventory_grpc"].DataInventoryServiceStub(
                ch).GetDataInventory(inv.GetDataInventoryRequest(
                    objects=["leads"]), timeout=DEADLINE)
            self.assertEqual([o.object for o in only.objects], ["leads"])
            with ENV.channel("billing") as other:
                code, details = code_of(
                    PB["inventory_grpc"].DataInventoryServiceStub(
                        other).GetDataInventory,
                    inv.GetDataInventoryRequest())
                self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
                self.assertIn("privacy_operations", details)

class ConsentTest(unittest.TestCase):
    """Consent (issue 13) from a foreign client: the marketing service
    (campaigns, purpose marketing) sees a contact only while it is opted in
    to marketing; an opt-out hides it on the next request (NOT_FOUND, as a
    missing one); the channel opted out of is masked; campaigns may not
    record consent; history and etags."""

    def test_opt_out_hides_the_contact_from_marketing(self):
        svc, res, con = PB["service"], PB["resources"], PB["consent"]
        with ENV.channel() as ch, ENV.channel("campaigns") as mch:
            contacts = PB["service_grpc"].ContactServiceStub(ch)
            consent = PB["consent_grpc"].ConsentServiceStub(ch)
            m_contacts = PB["service_grpc"].ContactServiceStub(mch)
            m_consent = PB["consent_grpc"].ConsentServiceStub(mch)
            c = contacts.CreateContact(svc.CreateContactRequest(
                contact=res.Contact(last_name="Noether", email="e@example.org",
                                    phone="+49 1")), timeout=DEADLINE)
            code, _ = code_of(m_contacts.GetContact,
                              svc.GetContactRequest(name=c.name))
            self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
            first = consent.SetConsent(con.SetConsentRequest(
                record=c.name, channel="email", purpose="marketing",
                state=con.OPTED_IN), timeout=DEADLINE)
            self.assertEqual(first.source, "services/admin-cli")
            self.assertEqual(first.etag, "v1")
            consent.SetConsent(con.SetConsentRequest(
                record=c.name, channel="phone", purpose="marketing",
                state=con.OPTED_OUT), timeout=DEADLINE)
            got = m_contacts.GetContact(svc.GetContactRequest(name=c.name),
                                        timeout=DEADLINE)
            self.assertEqual(got.email, "e@example.org")
            self.assertEqual(got.phone, "")  # opted out of marketing calls
            listed = m_contacts.ListContacts(svc.ListContactsRequest(
                page_size=1000), timeout=DEADLINE)
            self.assertIn(c.name, [x.name for x in listed.contacts])
            code, details = code_of(m_consent.SetConsent, con.SetConsentRequest(
                record=c.name, channel="post", purpose="marketing",
                state=con.OPTED_IN))
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
            self.assertIn("no data source", details)
            code, _ = code_of(consent.SetConsent, con.SetConsentRequest(
                record=c.name, channel="email", purpose="marketing",
                state=con.OPTED_OUT, etag="v7"))
            self.assertEqual(code, grpc.StatusCode.ABORTED)
            consent.SetConsent(con.SetConsentRequest(
                record=c.name, channel="email", purpose="marketing",
                state=con.OPTED_OUT, etag="v1"), timeout=DEADLINE)
            code, hidden = code_of(m_contacts.GetContact,
                                   svc.GetContactRequest(name=c.name))
            self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
            code, missing = code_of(m_contacts.GetContact,
                                    svc.GetContactRequest(
                                        name="contacts/doesnotexist"))
            self.assertEqual(hidden.replace(c.name, "X"),
                             missing.replace("contacts/doesnotexist", "X"))
            listed = m_contacts.ListContacts(svc.ListContactsRequest(
                page_size=1000), timeout=DEADLINE)
            self.assertNotIn(c.name, [x.name for x in listed.contacts])
            h = consent.ListConsentHistory(con.ListConsentHistoryRequest(
                record=c.name), timeout=DEADLINE)
            self.assertEqual(
                [(x.consent.channel, x.previous_state, x.consent.state)
                 for x in h.changes],
                [("email", con.UNKNOWN, con.OPTED_IN),
                 ("phone", con.UNKNOWN, con.OPTED_OUT),
                 ("email", con.OPTED_IN, con.OPTED_OUT)])
            all_consent = consent.GetConsent(con.GetConsentRequest(
                record=c.name), timeout=DEADLINE)
            self.assertEqual(len(all_consent.consents), 2)


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.failed_subtests = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addSubTest(self, test, subtest, outcome):
        super().addSubTest(test, subtest, outcome)
        if outcome is not None:
            self.failed_subtests += 1


def main():
    global ARGS, ENV
    ARGS, rest = parse_args(sys.argv[1:])
    ENV = Environment(ARGS)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for cls in [AccountCrudTest, ListTest, ContactTest, AuditTrailTest,
                AccessReportTest, PolicyAsCodeTest, KeyAdminTest,
                TransportTest, DataSourceTest, PrivacyTest, ConsentTest]:
        names = loader.getTestCaseNames(cls)
        if rest:  # optional test name filters, e.g. test_paging
            names = [n for n in names if any(r in n for r in rest)]
        suite.addTests(cls(n) for n in names)
    try:
        try:
            ENV.setup()
        except Exception as e:  # noqa: BLE001 - report any setup failure
            print("setup failed: %s" % e)
            print("0 passed, 1 failed")
            return 1
        runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult,
                                         stream=sys.stdout)
        result = runner.run(suite)
    finally:
        ENV.teardown()
    failed = len(result.failures) + len(result.errors)
    # A test with failing subtests is counted once, as failed.
    print("%d passed, %d failed" % (result.passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
