#!/usr/bin/env bash
# audit_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]
#
# The README's "What a security team sees" walk-through, run as a user runs
# it (the same set-up as policy_demo_smoke.sh: crm_server --demo with the
# dev config and certificates, in a temp directory, on a fresh SQLite file
# or a fresh PostgreSQL database). Through the built crmctl only:
#   - refused logins of carol and dave are listed for the auditor (audrey)
#     with the rule and the address; bob's success with his user;
#   - the Retail sharing rule's history shows its creation and deletion by
#     alice with the diff;
#   - audrey writes the access matrix (CSV) and the access-review report
#     (HTML); headless Chromium renders the page and its numbers are read
#     back and compared with the API (check_access_report.py);
#   - the trail exports, verifies offline with the pinned public key, and
#     fails verification (online and offline) after one row is edited in
#     the database; an export cut after a held checkpoint is caught;
#   - a user without view_audit (bob) is refused, and that is recorded;
#   - kill -9 during writes: after a restart, every create the client saw
#     acknowledged has its records.create event, and the chain verifies;
#   - kill -9 during audited reads (answered once their event is in the
#     audit spool, AuditConfig.spool_dir): after a restart every Get the
#     client saw answered has its event, and the chain verifies.
# Fails loudly (every failed check printed with the output it saw).
set -euo pipefail
build=$(cd "${1:?usage: audit_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]}" && pwd)
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
backend=${3:-sqlite}
demo_name=audit-demo
source "$src/tests/e2e/demo_server.sh"

sql() {  # STATEMENT, on the server's database
  if [[ "$backend" == postgresql ]]; then
    psql -qtA "${pg_args[@]}" -d "$pg_db" -c "$1"
  else
    sqlite3 var/dev/crm.db "$1"
  fi
}

# The port file appears before --demo has loaded: wait until audrey can log in.
for _ in $(seq 1 200); do
  login audrey && break
  sleep 0.1
done
for user in alice bob audrey; do
  if login "$user"; then ok "$user logs in"; else fail "$user cannot log in"; finish; fi
done
echo carol-demo-pw | ctl login carol --password-stdin >/dev/null || true
echo dave-demo-pw | ctl login dave --password-stdin >/dev/null || true

# A refusal's event is queued without making the refused caller wait: list
# until the refusals are there (a condition, up to a minute).
events_once() {  # PATTERN FILTER: audrey's listing once it matches PATTERN
  local out
  for _ in $(seq 1 300); do
    out=$(as audrey audit list --filter "$2")
    grep -qE -- "$1" <<<"$out" && break
    sleep 0.2
  done
  echo "$out"
}

echo "--- refused logins, with the rule and the address"
out=$(events_once 'username=dave LOGIN_COUNTRY' 'action = "login" AND outcome = DENIED')
has_line "carol refused by the IP rule" 'username=carol LOGIN_IP_RESTRICTED.*10.0.0.0/8' "$out"
has_line "dave refused by the country rule, from DE" '127.0.0.1 DE .*username=dave LOGIN_COUNTRY_RESTRICTED' "$out"
out=$(as audrey audit list --filter 'action = "login" AND actor_user = "users/bob"')
has_line "bob's login recorded as allowed" 'users/bob.*login.*ALLOWED' "$out"

echo "--- the history of the Retail sharing rule"
as alice policy create sharingRules retail '{"object": "accounts", "criteria": "industry = \"Retail\"", "shared_with": {"role": "roles/sales-rep"}, "access": "READ"}' >/dev/null
as alice policy delete sharingRules/retail >/dev/null
out=$(as audrey audit history sharingRules/retail)
has_line "created by alice" 'policy.create  by users/alice via services/admin-cli' "$out"
has "with its criteria" 'criteria: (none) -> "industry = \"Retail\""' "$out"
has_line "deleted by alice" 'policy.delete  by users/alice' "$out"

echo "--- the access matrix and the access-review report, rendered by Chromium"
rc=0; out=$(as audrey access matrix matrix.csv) || rc=$?
exit_is "audrey writes the access matrix" 0 "$rc" "$out"
has_line "bob's row: accounts read by grants" '^users/bob,bob,profiles/sales-rep,roles/sales-rep,true,read create edit,granted,granted,owners=' "$(cat matrix.csv)"
has_line "the personal phone is a column" '^user,username,.*contacts.personal_phone' "$(head -1 matrix.csv)"
as audrey access report --html report.html >/dev/null
as audrey access report --json >report.json
ctl --output json users list >users.json
chrome=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chrome" ]]; then
  fail "chromium is not installed (scripts/install-deps.sh installs it)"
else
  "$chrome" --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
    --dump-dom "file://$work/report.html" >dom.html 2>chrome.log
  "$chrome" --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
    --window-size=1280,1600 --screenshot="$work/report.png" \
    "file://$work/report.html" >/dev/null 2>>chrome.log
  if [[ -s dom.html && -s report.png ]]; then ok "Chromium renders the report"; else
    fail "Chromium did not render the report:"; sed 's/^/    /' chrome.log; fi
  rc=0; out=$(python3 "$src/tests/e2e/check_access_report.py" dom.html report.json users.json) || rc=$?
  echo "$out" | sed 's/^/    /'
  exit_is "the rendered numbers match the API" 0 "$rc" "$out"
fi

echo "--- tail follows new events"
CRM_TOKEN=${token[audrey]} "$crmctl" audit tail --filter 'action = "records.create"' >tail.out 2>&1 &
tail_pid=$!
# The tail follows from the newest event when it starts, and nothing says
# when it has started: create until one shows (the first usually does).
for i in $(seq 1 50); do
  as alice accounts create display_name="Tailed $i" >/dev/null
  for _ in $(seq 1 10); do grep -q "records.create" tail.out && break 2; sleep 0.1; done
done
kill "$tail_pid" 2>/dev/null || true; wait "$tail_pid" 2>/dev/null || true
has_line "audit tail printed the create" 'users/alice via services/admin-cli  records.create  accounts/' "$(cat tail.out)"

echo "--- least privilege"
rc=0; out=$(as bob audit list) || rc=$?
exit_is "bob (no view_audit) is refused" 9 "$rc" "$out"
out=$(events_once 'audit\.list' 'actor_user = "users/bob" AND outcome = DENIED')
has "bob's refused audit query is itself recorded" "audit.list" "$out"

echo "--- export and verify"
as audrey audit public-key > pinned.pem 2>/dev/null
has "the public key is PEM" "BEGIN PUBLIC KEY" "$(cat pinned.pem)"
# Wait for a signed checkpoint (every 5 s in the dev config).
for _ in $(seq 1 100); do
  out=$(as audrey audit verify)
  grep -qE ' [1-9][0-9]* checkpoints verified' <<<"$out" && break
  sleep 0.2
done
has_line "online verification passes with a checkpoint" '^OK: .* [1-9][0-9]* checkpoints verified' "$out"
as audrey audit export audit-1.jsonl >/dev/null
out=$(ctl audit verify --file audit-1.jsonl --public-key pinned.pem)
has_line "the export verifies offline" '^OK: ' "$out"
held=$(grep -c checkpoint audit-1.jsonl || true)
[[ "$held" -ge 1 ]] && ok "the export holds checkpoints" || fail "no checkpoint in the export"
head -n 2 audit-1.jsonl > cut.jsonl
rc=0; out=$(ctl audit verify --file cut.jsonl --public-key pinned.pem --expect audit-1.jsonl) || rc=$?
has "a cut export is caught against the held checkpoint" "truncated" "$out"
[[ $rc -ne 0 ]] && ok "and exits non-zero" || fail "cut export exited 0"

echo "--- one edited row"
original=$(sql "SELECT actor_user FROM audit_events WHERE sequence = 3")
sql "UPDATE audit_events SET actor_user = 'users/frank' WHERE sequence = 3" >/dev/null
rc=0; out=$(as audrey audit verify) || rc=$?
has "online verification names the edited event" "event 3: its hash does not match its contents (edited)" "$out"
[[ $rc -ne 0 ]] && ok "and exits non-zero" || fail "verify exited 0 after an edit"
as audrey audit export audit-2.jsonl >/dev/null
rc=0; out=$(ctl audit verify --file audit-2.jsonl --public-key pinned.pem) || rc=$?
has "offline verification names it too" "event 3: its hash does not match" "$out"
sql "UPDATE audit_events SET actor_user = '$original' WHERE sequence = 3" >/dev/null
out=$(as audrey audit verify)
has_line "restored, it verifies again" '^OK: ' "$out"

echo "--- kill -9 during writes"
(
  for i in $(seq 1 400); do
    if out=$("$crmctl" --output json accounts create display_name="Crash $i" 2>/dev/null); then
      sed -n 's/.*"name": *"\(accounts\/[^"]*\)".*/\1/p' <<<"$out" | head -1 >> acked.txt
    fi
  done
) &
writer=$!
for _ in $(seq 1 300); do
  [[ -f acked.txt && $(wc -l < acked.txt) -ge 10 ]] && break
  sleep 0.05
done
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
n=$(wc -l < acked.txt)
[[ "$n" -ge 10 ]] && ok "$n creates acknowledged before the kill" || fail "only $n creates acknowledged"
rm -f port
"$server_bin" --config=server/dev.textproto "${database_flag[@]}" \
  --listen=127.0.0.1:0 --port_file=port --metrics_listen=127.0.0.1:0 >server2.log 2>&1 &
pid=$!
for _ in $(seq 1 300); do [[ -s port ]] && break; sleep 0.1; done
export CRM_TARGET="localhost:$(cat port)"
missing=0
events=$(ctl audit list --all --filter 'action = "records.create"')
while read -r name; do
  grep -qF -- " $name " <<<"$events" || { missing=$((missing + 1)); echo "    no event for $name"; }
done < acked.txt
[[ $missing -eq 0 ]] && ok "every acknowledged create has its event" || fail "$missing acknowledged creates have no event"
rc=0; out=$(ctl audit verify) || rc=$?
has_line "the chain verifies after the crash" '^OK: ' "$out"

echo "--- kill -9 during audited reads"
# The audit chain's head is held from outside (a write lock on SQLite, the
# head row locked on PostgreSQL), so no event can be committed: every read
# the client sees answered is answered from the spool, and only the replay
# at the next start can put its event in the database.
target=$(head -1 acked.txt)
get_filter="action = \"crm.v1.AccountService/GetAccount\" AND resource = \"$target\""
reads_of() { ctl audit list --all --filter "$get_filter" | grep -cF -- " $target " || true; }
stored_reads() {
  sql "SELECT COUNT(*) FROM audit_events WHERE action = 'crm.v1.AccountService/GetAccount' AND resource = '$target'" | tr -d ' '
}
before=$(reads_of)
wait_release='while [ ! -f release ]; do sleep 0.1; done'
if [[ "$backend" == postgresql ]]; then
  printf 'BEGIN;\nSELECT sequence FROM audit_head WHERE id = 1 FOR UPDATE;\n\\! touch held; %s\nCOMMIT;\n' "$wait_release" |
    psql -qtA "${pg_args[@]}" -d "$pg_db" >holder.log 2>&1 &
else
  printf 'BEGIN IMMEDIATE;\n.shell touch held; %s\nCOMMIT;\n' "$wait_release" |
    sqlite3 var/dev/crm.db >holder.log 2>&1 &
fi
holder=$!
for _ in $(seq 1 300); do [[ -f held ]] && break; sleep 0.05; done
[[ -f held ]] && ok "the audit chain's head is held from outside" || fail "could not hold the head: $(cat holder.log)"
: > answered.txt
(
  for i in $(seq 1 2000); do
    "$crmctl" accounts get "$target" >/dev/null 2>&1 && echo "$i" >> answered.txt
  done
) &
reader=$!
for _ in $(seq 1 300); do
  [[ $(wc -l < answered.txt) -ge 20 ]] && break
  sleep 0.05
done
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
kill "$reader" 2>/dev/null || true
wait "$reader" 2>/dev/null || true
n=$(wc -l < answered.txt)
[[ "$n" -ge 20 ]] && ok "$n audited reads answered before the kill" || fail "only $n reads answered"
stored=$(stored_reads)
[[ "$stored" -eq "$before" ]] && ok "none of their events was committed before the kill ($stored stored)" \
  || fail "$((stored - before)) of the reads' events were committed while the head was held"
spooled=$(find var/dev/audit-spool -name 'events-*.spool' | wc -l)
[[ "$spooled" -ge 1 ]] && ok "the killed server left its spool ($spooled file(s))" || fail "no spool file left"
touch release
wait "$holder" 2>/dev/null || true
rm -f port
"$server_bin" --config=server/dev.textproto "${database_flag[@]}" \
  --listen=127.0.0.1:0 --port_file=port --metrics_listen=127.0.0.1:0 >server3.log 2>&1 &
pid=$!
for _ in $(seq 1 300); do [[ -s port ]] && break; sleep 0.1; done
export CRM_TARGET="localhost:$(cat port)"
# The replay is written by the audit writer in the background: wait for it.
for _ in $(seq 1 100); do
  after=$(reads_of)
  [[ $((after - before)) -ge "$n" ]] && break
  sleep 0.2
done
[[ $((after - before)) -ge "$n" ]] && ok "every answered read has its event ($before before, $after after, $n answered)" \
  || fail "$n reads answered but only $((after - before)) events ($before before, $after after)"
has "the restart replayed the spool" '"audit.spool_recovered"' "$(cat server3.log)"
rc=0; out=$(ctl audit verify) || rc=$?
has_line "the chain verifies after the replay" '^OK: ' "$out"
finish
