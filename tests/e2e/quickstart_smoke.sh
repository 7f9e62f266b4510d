#!/usr/bin/env bash
# quickstart_smoke.sh BUILD_DIR [SOURCE_DIR]
#
# The README quick start as a new user lives it, after the build: does what
# scripts/dev.sh does (dev certificates, the dev config, --demo) in a temp
# working directory laid out like the repository (certs/out, var/dev,
# server/dev.textproto copied unchanged, so its relative paths are the ones a
# user gets), except that the server listens on 127.0.0.1 port 0 instead of
# localhost:8443. Then runs the commands dev.sh prints with the built crmctl
# (default certificate paths, target from CRM_TARGET), checks the demo
# organisation, stops the server with SIGTERM and checks a clean exit; starts
# it a second time on the same database (dev.sh run twice) and checks the
# demo is not loaded twice.
set -euo pipefail
build=$(cd "${1:?usage: quickstart_smoke.sh BUILD_DIR [SOURCE_DIR]}" && pwd)
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
server_bin="$build/server/crm_server"
crmctl="$build/clients/crmctl"
for f in "$server_bin" "$crmctl"; do
  [[ -x "$f" ]] || { echo "FAIL: $f not built"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/crm-quickstart-XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

source "$src/tests/e2e/smoke_lib.sh"

# What dev.sh does after building, from a working directory shaped like the
# repository.
cd "$work"
mkdir -p server
cp "$src/server/dev.textproto" server/dev.textproto
"$src/certs/make-dev-certs.sh" certs/out >/dev/null
# dev.sh runs this on every start: a second run must keep what exists.
before=$(sha256sum certs/out/ca.pem certs/out/server.pem)
"$src/certs/make-dev-certs.sh" certs/out >/dev/null
if [[ "$before" == "$(sha256sum certs/out/ca.pem certs/out/server.pem)" ]]; then
  ok "make-dev-certs.sh keeps existing certificates"
else
  fail "make-dev-certs.sh regenerated existing certificates"
fi
for svc in web-frontend billing order-fulfilment marketing admin-cli; do
  [[ -f "certs/out/$svc.pem" && -f "certs/out/$svc.key" ]] \
    || fail "make-dev-certs.sh made no certificate for $svc"
done
if [[ "$(stat -c %a certs/out/admin-cli.key)" == 600 ]]; then
  ok "private keys are mode 0600"
else
  fail "certs/out/admin-cli.key mode is $(stat -c %a certs/out/admin-cli.key)"
fi
mkdir -p var/dev
perl "$src/tests/testdata/make-test-geoip.pl" var/dev/geoip-demo.mmdb

# start_server LOG: crm_server as dev.sh runs it, plus port 0 and a port file.
start_server() {
  rm -f port
  "$server_bin" --config=server/dev.textproto --demo \
    --listen=127.0.0.1:0 --port_file=port --metrics_listen=127.0.0.1:0 >"$1" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    [[ -s port ]] && break
    kill -0 "$pid" 2>/dev/null || { fail "crm_server exited at start:"; cat "$1"; finish; }
    sleep 0.1
  done
  [[ -s port ]] || { fail "crm_server wrote no port file in 30 s"; cat "$1"; finish; }
  export CRM_TARGET="localhost:$(cat port)"
}

# stop_server LOG: SIGTERM, then a clean exit within the grace period.
stop_server() {
  kill -TERM "$pid"
  local rc=0 t0=$SECONDS
  # dev.textproto leaves shutdown_grace_seconds at its default (10 s).
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "crm_server still running 15 s after SIGTERM"; return
  fi
  wait "$pid" || rc=$?
  pid=""
  if [[ $rc -eq 0 ]]; then ok "SIGTERM: exit 0 after $((SECONDS - t0)) s"; else
    fail "SIGTERM: exit status $rc"; sed 's/^/    /' "$1"; fi
  has "log says server.stopped" '"server.stopped"' "$(cat "$1")"
}

# crmctl exactly as dev.sh tells the user to run it (defaults: certs/out/...).
ctl() { "$crmctl" "$@" 2>&1; }

start_server server1.log
# The port file appears before --demo has loaded the records: wait for them.
for _ in $(seq 1 100); do
  out=$(ctl accounts list || true)
  grep -q "Acme Ltd" <<<"$out" && break
  sleep 0.1
done

out=$(ctl accounts list) || fail "crmctl accounts list: exit $?"
for want in "Acme Ltd" "Globex Corporation" "Initech" "Umbrella Pharma" "Soylent Foods" "Duff Stores"; do
  has "accounts list shows $want" "$want" "$out"
done
rows=$(ctl --output json accounts list --page-size 1000 | grep -c '"name": *"accounts/' || true)
[[ "$rows" == 6 ]] && ok "6 demo accounts" || fail "expected 6 demo accounts, got $rows"

out=$(ctl --output json contacts get contacts/ada) \
  || fail "crmctl --output json contacts get contacts/ada: exit $?"
has "contacts get contacts/ada (JSON) names Lovelace" '"Lovelace"' "$out"
has "contacts get contacts/ada (JSON) links accounts/acme" '"accounts/acme"' "$out"

# Every crmctl command the README's quick start and dev.sh's banner show, as
# written there (build/clients/crmctl replaced by the build's crmctl).
run_documented() {  # FILE
  local line cmd rc
  while IFS= read -r line; do
    cmd="${line#*build/clients/crmctl }"
    rc=0
    out=$(eval "ctl $cmd") || rc=$?
    if [[ $rc -eq 0 ]]; then ok "$1: crmctl $cmd"; else
      fail "$1: 'crmctl $cmd' exit $rc: $out"; fi
  done < <(grep -E '^ *build/clients/crmctl ' "$src/$1")
}
run_documented README.md
run_documented scripts/dev.sh

# The README's login walk-through (passwords piped instead of typed).
login() {  # USER PASSWORD [crmctl global flags...]
  local user=$1 pw=$2
  shift 2
  echo "$pw" | "$crmctl" "$@" login "$user" --password-stdin 2>&1
}
rc=0; out=$(login bob bob-demo-pw) || rc=$?
has "bob logs in (exit $rc)" "export CRM_TOKEN=" "$out"
token=$(sed -n 's/^export CRM_TOKEN=//p' <<<"$out" | tr -d "'\"")
out=$(CRM_TOKEN=$token ctl whoami) || fail "whoami as bob: exit $?"
has "whoami names bob" "bob" "$out"
CRM_TOKEN=$token ctl logout >/dev/null && ok "bob logs out" || fail "logout failed"
rc=0; out=$(CRM_TOKEN=$token ctl whoami) || rc=$?
[[ $rc -ne 0 ]] && ok "the token is dead after logout" || fail "token still works after logout"
rc=0; out=$(login carol carol-demo-pw) || rc=$?
[[ $rc -ne 0 ]] && has "carol refused by the IP rule" "ip_ranges" "$out" \
  || fail "carol logged in from 127.0.0.1"
rc=0; out=$(login dave dave-demo-pw) || rc=$?
[[ $rc -ne 0 ]] && has "dave refused by the country rule" "countries" "$out" \
  || fail "dave logged in from Germany"
rc=0; out=$(login dave dave-demo-pw --forwarded-for 127.2.0.9) || rc=$?
[[ $rc -eq 0 ]] && ok "dave logs in from a French address" \
  || fail "dave from FR: exit $rc: $out"

out=$(ctl echo hello) || fail "crmctl echo hello: exit $?"
has "echo hello" "hello" "$out"
has "echo names the caller" "services/admin-cli" "$out"

for coll in leads opportunities cases activities; do
  out=$(ctl "$coll" list) || fail "crmctl $coll list: exit $?"
done
has "opportunities list has the demo deal" "Acme: 500 widgets" "$(ctl opportunities list)"

# The metrics endpoint (dev.textproto turns it on; port 0 here, named in the
# metrics.started log line) counts the calls made above.
mport=$(sed -n 's/.*"event":"metrics.started".*"port":"\([0-9]*\)".*/\1/p' server1.log | head -1)
if [[ -n "$mport" ]]; then
  out=$(curl -s "http://127.0.0.1:$mport/metrics" || true)
  has "metrics count calls by method and code" \
    'crm_rpc_calls_total{code="OK",method="crm.v1.AccountService/ListAccounts"}' "$out"
  has "metrics report the policy version" "crm_policy_version" "$out"
else
  fail "no metrics.started line with a port in server1.log"
fi

# A client certificate from the same dev CA but a narrower grant.
rc=0
out=$(ctl --cert certs/out/billing.pem --key certs/out/billing.key \
  accounts create display_name=Nope) || rc=$?
# 2 + PERMISSION_DENIED (7)
if [[ $rc -eq 9 ]]; then ok "billing may not create accounts (exit 9)"; else
  fail "billing create: exit $rc, expected 9 (PERMISSION_DENIED): $out"; fi

accounts_before=$(ctl --output json accounts list --page-size 1000 | grep -c '"name": *"accounts/' || true)
stop_server server1.log

# dev.sh a second time: same database, --demo again.
start_server server2.log
out=$(ctl accounts list) || fail "crmctl accounts list after restart: exit $?"
has "restart: Acme Ltd still there" "Acme Ltd" "$out"
rows=$(ctl --output json accounts list --page-size 1000 | grep -c '"name": *"accounts/' || true)
[[ "$rows" == "$accounts_before" ]] && ok "restart: demo not loaded twice" \
  || fail "restart: expected $accounts_before accounts, got $rows"
stop_server server2.log

finish
