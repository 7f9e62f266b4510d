# Sourced by the demo walk-through smokes (policy_demo_smoke.sh,
# audit_demo_smoke.sh) after they set build, src, backend and demo_name:
# what scripts/dev.sh does, in a temp directory shaped like the repository
# (dev config, dev certificates, demo GeoIP database), then crm_server --demo
# on 127.0.0.1 port 0 with a fresh SQLite file or, for "postgresql", a fresh
# database in the cluster named by $CRM_TEST_PG_DIR/conninfo. Leaves the
# working directory there and sets server_bin, crmctl, work, pid, pg_db,
# pg_args, database_flag and CRM_TARGET; everything is removed on exit.
server_bin="$build/server/crm_server"
crmctl="$build/clients/crmctl"
for f in "$server_bin" "$crmctl"; do
  [[ -x "$f" ]] || { echo "FAIL: $f not built"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/crm-${demo_name}-XXXXXX")
pid=""
pg_db=""
pg_args=()
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n "$pg_db" ]]; then
    dropdb --if-exists "${pg_args[@]}" "$pg_db" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

source "$src/tests/e2e/smoke_lib.sh"

# What dev.sh does, from a working directory shaped like the repository.
cd "$work"
mkdir -p server var/dev
cp "$src/server/dev.textproto" server/dev.textproto
"$src/certs/make-dev-certs.sh" certs/out >/dev/null
perl "$src/tests/testdata/make-test-geoip.pl" var/dev/geoip-demo.mmdb

database_flag=()
if [[ "$backend" == postgresql ]]; then
  [[ -n "${CRM_TEST_PG_DIR:-}" && -f "$CRM_TEST_PG_DIR/conninfo" ]] \
    || { echo "FAIL: postgresql needs CRM_TEST_PG_DIR (tests/pg/pg_cluster.sh)"; exit 1; }
  conninfo=$(cat "$CRM_TEST_PG_DIR/conninfo")
  host=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$conninfo")
  port=$(sed -n 's/.*port=\([^ ]*\).*/\1/p' <<<"$conninfo")
  user=$(sed -n 's/.*user=\([^ ]*\).*/\1/p' <<<"$conninfo")
  pg_args=(-h "$host" -p "$port" -U "${user:-postgres}")
  pg_db="${demo_name//-/_}_$$_$RANDOM"
  createdb "${pg_args[@]}" "$pg_db"
  database_flag=(--database="postgresql:host=$host port=$port user=${user:-postgres} dbname=$pg_db")
elif [[ "$backend" != sqlite ]]; then
  echo "FAIL: unknown backend '$backend' (sqlite or postgresql)"; exit 1
fi

"$server_bin" --config=server/dev.textproto --demo "${database_flag[@]}" \
  --listen=127.0.0.1:0 --port_file=port --metrics_listen=127.0.0.1:0 >server.log 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  [[ -s port ]] && break
  kill -0 "$pid" 2>/dev/null || { fail "crm_server exited at start:"; cat server.log; finish; }
  sleep 0.1
done
[[ -s port ]] || { fail "crm_server wrote no port file in 30 s"; cat server.log; finish; }
export CRM_TARGET="localhost:$(cat port)"

# crmctl with the dev defaults; `login USER` logs in with the demo password
# and keeps the token; `as USER ARGS...` acts for that user.
ctl() { "$crmctl" "$@" 2>&1; }
declare -A token
login() {  # USER
  local out
  out=$(echo "$1-demo-pw" | "$crmctl" login "$1" --password-stdin 2>&1) || return 1
  token[$1]=$(sed -n 's/^export CRM_TOKEN=//p' <<<"$out" | tr -d "'\"")
}
as() { local user=$1; shift; CRM_TOKEN=${token[$user]} "$crmctl" "$@" 2>&1; }
