#!/usr/bin/python3
"""A Python client of the CRM: mTLS, Create/Get/Update/Delete of an account,
and an error whose google.rpc details it decodes (reason, metadata, every
field violation). Uses only Debian's python3-grpcio and python3-protobuf; the
Python modules are generated from proto/ with protoc at run time into a
temporary directory.

Against the dev server (scripts/dev.sh: localhost:8443, certs in certs/out/):
  examples/python/crm_client_example.py
Options: --target HOST:PORT  --certs DIR (ca.pem, admin-cli.pem/.key)
         --source-dir DIR (the checkout, for proto/)
         --start-server BIN (start a throwaway crm_server first: what the
           ctest example_python_client does, see tests/CMakeLists.txt)

The error model is proto/crm/v1/errors.proto: an error with details carries a
serialized google.rpc.Status in the "grpc-status-details-bin" trailer.
"""
import argparse
import glob
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_modules(source_dir, out):
    """crm/v1 and google/rpc Python modules from proto/, into `out`."""
    proto = os.path.join(source_dir, "proto")
    os.makedirs(out, exist_ok=True)
    files = sorted(os.path.relpath(p, proto) for p in
                   glob.glob(os.path.join(proto, "crm/v1/*.proto")) +
                   glob.glob(os.path.join(proto, "google/rpc/*.proto")))
    subprocess.run(
        ["protoc", "-I", proto, "-I", "/usr/include", "--python_out", out,
         "--grpc_python_out", out,
         "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin"]
        + files, check=True)
    # google/rpc is generated as the package "google.rpc"; the installed
    # "google" (protobuf) is a namespace package, so both are found once the
    # generated directory is on the path.
    sys.path.insert(0, out)
    mods = {}
    for short, name in [("res", "crm.v1.resources_pb2"),
                        ("svc", "crm.v1.crm_service_pb2"),
                        ("svc_grpc", "crm.v1.crm_service_pb2_grpc"),
                        ("status", "google.rpc.status_pb2"),
                        ("details", "google.rpc.error_details_pb2")]:
        mods[short] = importlib.import_module(name)
    return mods


def decode_details(error, m):
    """The google.rpc.Status of a failed call, or None."""
    for key, value in (error.trailing_metadata() or ()):
        if key == "grpc-status-details-bin":
            status = m["status"].Status()
            status.ParseFromString(value)
            return status
    return None


def print_error(error, m):
    print("error: %s: %s" % (error.code().name, error.details()))
    status = decode_details(error, m)
    if status is None:
        print("  (no details)")
        return {}
    found = {}
    for any_detail in status.details:
        for name in ("ErrorInfo", "BadRequest", "PreconditionFailure",
                     "RetryInfo", "ResourceInfo"):
            msg = getattr(m["details"], name)()
            if any_detail.Is(msg.DESCRIPTOR):
                any_detail.Unpack(msg)
                found[name] = msg
    if "ErrorInfo" in found:
        info = found["ErrorInfo"]
        print("  reason: %s (domain %s)" % (info.reason, info.domain))
        for k in sorted(info.metadata):
            print("  metadata %s = %s" % (k, info.metadata[k]))
    if "BadRequest" in found:
        for v in found["BadRequest"].field_violations:
            print("  field %s: %s" % (v.field, v.description))
    if "RetryInfo" in found:
        d = found["RetryInfo"].retry_delay
        print("  retry after %.3f s" % (d.seconds + d.nanos / 1e9))
    return found


def channel(target, certs):
    def read(name):
        with open(os.path.join(certs, name), "rb") as f:
            return f.read()
    creds = grpc.ssl_channel_credentials(
        root_certificates=read("ca.pem"),
        private_key=read("admin-cli.key"),
        certificate_chain=read("admin-cli.pem"))
    return grpc.secure_channel(target, creds)


def run_example(target, certs, m):
    stub = m["svc_grpc"].AccountServiceStub(channel(target, certs))
    svc, res = m["svc"], m["res"]
    timeout = 10

    created = stub.CreateAccount(svc.CreateAccountRequest(
        account=res.Account(display_name="Python Example Ltd"),
        request_id=str(uuid.uuid4())), timeout=timeout)
    print("created", created.name, "etag", created.etag)
    got = stub.GetAccount(svc.GetAccountRequest(name=created.name),
                          timeout=timeout)
    print("got", got.name, repr(got.display_name))
    update = svc.UpdateAccountRequest(account=got)
    update.account.phone = "+1 555 0100"
    update.update_mask.paths.append("phone")
    updated = stub.UpdateAccount(update, timeout=timeout)
    print("updated", updated.name, "etag", updated.etag)

    # An invalid request: every field violation comes back, not only the
    # first.
    bad = svc.CreateAccountRequest(account=res.Account(
        display_name="", description="d" * 40000))
    try:
        stub.CreateAccount(bad, timeout=timeout)
        raise SystemExit("the invalid create succeeded")
    except grpc.RpcError as e:
        found = print_error(e, m)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
        assert found["ErrorInfo"].reason == "INVALID_REQUEST", found
        fields = [v.field for v in found["BadRequest"].field_violations]
        assert fields == ["account.display_name", "account.description"], fields

    # A missing record: NOT_FOUND with reason RECORD_NOT_FOUND.
    try:
        stub.GetAccount(svc.GetAccountRequest(name="accounts/no-such-id"),
                        timeout=timeout)
        raise SystemExit("the get of a missing record succeeded")
    except grpc.RpcError as e:
        found = print_error(e, m)
        assert found["ErrorInfo"].reason == "RECORD_NOT_FOUND", found

    stub.DeleteAccount(svc.DeleteAccountRequest(name=updated.name,
                                                etag=updated.etag),
                       timeout=timeout)
    print("deleted", updated.name)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", default="localhost:8443")
    p.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(HERE)))
    p.add_argument("--certs", default=None)
    p.add_argument("--start-server", default=None, metavar="CRM_SERVER")
    args = p.parse_args(argv)
    args.source_dir = os.path.abspath(args.source_dir)
    tmp = tempfile.mkdtemp(prefix="crm-py-example-")
    env = None
    try:
        m = generate_modules(args.source_dir, os.path.join(tmp, "gen"))
        target, certs = args.target, args.certs
        if args.start_server:
            # The e2e tests' throwaway server (SQLite, test certificates).
            sys.path.insert(0, os.path.join(args.source_dir, "tests/e2e"))
            import external_client_test as e2e
            env = e2e.Environment(argparse.Namespace(
                server=os.path.abspath(args.start_server),
                source_dir=args.source_dir, database="sqlite", keep=False))
            env.setup()
            target, certs = env.target(), env.certs
        if certs is None:
            certs = os.path.join(args.source_dir, "certs/out")
        run_example(target, certs, m)
    finally:
        if env is not None:
            env.teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
