#!/usr/bin/env bash
# privacy_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]
#
# The README's "Subject requests" walk-through, run as a user runs it:
# crm_server --demo with the dev config (tests/e2e/demo_server.sh), then,
# through the built crmctl only:
#   - alice reads the data inventory (markdown, CSV): the demo's sources
#     and purposes, encrypted fields, retention and erasure per field; bob
#     is refused; the call is audited;
#   - alice (admin profile, privacy_operations) exports Edsger by e-mail:
#     his contact, the call regarding him, provenance, who acted;
#   - bob (no privacy_operations) is refused (PERMISSION_DENIED, exit 9);
#   - a dry run lists what erasure would do and changes nothing;
#   - the erasure: Edsger anonymized, the call deleted, a signed receipt
#     that verifies offline (and fails once altered), the audit trail still
#     verifies, the erasure event names a pseudonym, no value;
#   - a second erasure (by e-mail or by record name) is a no-op;
#   - retention: a dry run names the demo's stale lead and changes nothing,
#     bob is refused, a run anonymizes it (not the fresh one), is listed and
#     audited, and the audit trail verifies;
#   - the erased values are in no dump of the database (SQLite: the file's
#     bytes; PostgreSQL: pg_dump).
set -euo pipefail
build=$(cd "${1:?usage: privacy_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]}" && pwd)
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
backend=${3:-sqlite}
demo_name=privacy-demo
source "$src/tests/e2e/demo_server.sh"

for _ in $(seq 1 200); do
  if login alice && as alice contacts get contacts/edsger >/dev/null; then break; fi
  sleep 0.1
done
login bob || { fail "bob cannot log in"; finish; }

echo "--- data inventory (what we hold and why)"
rc=0; out=$(as alice privacy inventory) || rc=$?
exit_is "alice reads the data inventory" 0 "$rc" "$out"
has "...as a privacy notice's markdown" "# What we hold and why" "$out"
has_line "...with the policy version and totals" "^Fields: [0-9]+; personal: [0-9]+; encrypted at rest: 2; flagged: [0-9]+\.$" "$out"
has "...the billing source, its kind, service and purpose" "| Billing (dataSources/billing) | accounting | services/billing | invoicing: the value and stage of deals |" "$out"
has_line "...a section per object" "^## contacts$" "$out"
has_line "...personal_email: personal, encrypted, a blind index" "^\| personal_email \| yes \(sensitive, channel email\) \|.*\| encrypted; lookup by blind index \|" "$out"
has_line "...a lead's e-mail: emptied by stale-leads and on erasure" "^\| email \|.*\| stale-leads: emptied after 730 days without update \| emptied \|" "$out"
has_line "...an opportunity's amount: billing's purpose and source" "^\| amount \| no \| invoicing: the value and stage of deals; .* \| dataSources/billing, dataSources/crmctl, dataSources/sales-ui \|" "$out"
rc=0; out=$(as alice privacy inventory --format csv) || rc=$?
exit_is "...as CSV" 0 "$rc" "$out"
has "...one row per field" "contacts,personal_email,string,no,yes,yes,yes,yes,email," "$out"
rc=0; out=$(as bob privacy inventory) || rc=$?
exit_is "bob (no privacy_operations) is refused the inventory" 9 "$rc" "$out"
has "...naming the permission" "privacy_operations" "$out"
has "the inventory is audited" "privacy.inventory" "$(as alice audit list --filter 'action = "privacy.inventory"')"

echo "--- export"
rc=0; out=$(as alice privacy export edsger@soylent.example --out edsger.json) || rc=$?
exit_is "alice exports Edsger" 0 "$rc" "$out"
has "...with the counts" "contacts 1, leads 0, activities 1, cases 0" "$out"
doc=$(cat edsger.json 2>/dev/null || true)
has "the export holds his contact" '"last_name":"Dijkstra"' "$doc"
has "...the call regarding him" "activities/call-2" "$doc"
has "...his provenance" '"provenance":{"contacts/edsger"' "$doc"
has "...who acted on his records" '"accessedBy":[' "$doc"
rc=0; out=$(as bob privacy export edsger@soylent.example) || rc=$?
exit_is "bob (no privacy_operations) is refused" 9 "$rc" "$out"
has "...naming the permission" "privacy_operations" "$out"

echo "--- erasure: dry run"
rc=0; out=$(as alice privacy erase edsger@soylent.example --dry-run) || rc=$?
exit_is "a dry run" 0 "$rc" "$out"
has_line "...would anonymize the contact" "^contacts/edsger +anonymize " "$out"
has_line "...would delete the call" "^activities/call-2 +delete " "$out"
has "nothing changed" "Dijkstra" "$(as alice contacts get contacts/edsger)"

echo "--- erasure"
rc=0; out=$(as alice privacy erase edsger@soylent.example --receipt-out receipt.json) || rc=$?
exit_is "alice erases Edsger" 0 "$rc" "$out"
has "...with a receipt" "erasureReceipts/" "$out"
lacks "the contact is anonymized" "Dijkstra" "$(as alice contacts get contacts/edsger)"
rc=0; out=$(as alice activities get activities/call-2) || rc=$?
exit_is "the call is deleted" 7 "$rc" "$out"
as alice audit public-key > pinned.pem 2>/dev/null
rc=0; out=$(ctl privacy receipt verify receipt.json --public-key pinned.pem) || rc=$?
exit_is "the receipt verifies offline against the pinned audit key" 0 "$rc" "$out"
has "...pinned" "(pinned)" "$out"
sed 's/"activities\/call-2"/"activities\/call-3"/' receipt.json > altered.json
rc=0; out=$(ctl privacy receipt verify altered.json) || rc=$?
exit_is "an altered receipt does not verify" 1 "$rc" "$out"
rc=0; out=$(as alice audit verify) || rc=$?
exit_is "the audit trail still verifies" 0 "$rc" "$out"
out=$(as alice audit list --filter 'action = "privacy.erase"')
has "the erasure is audited under a pseudonym" "subjects/" "$out"
lacks "...never by value" "edsger" "$out"
rc=0; out=$(as alice privacy erase edsger@soylent.example) || rc=$?
exit_is "a second erasure" 0 "$rc" "$out"
has "...is a no-op" "was already erased" "$out"
has "...also by record name" "was already erased" "$(as alice privacy erase contacts/edsger)"

echo "--- retention"
rc=0; out=$(as alice privacy retention dry-run) || rc=$?
exit_is "a retention dry run" 0 "$rc" "$out"
has_line "...stale-leads would anonymize Babbage's lead" "^stale-leads +leads +1 +leads/babbage" "$out"
has_line "...old-activities affects nothing" "^old-activities +activities +0" "$out"
has "nothing changed" "Babbage" "$(as alice leads get leads/babbage)"
rc=0; out=$(as bob privacy retention dry-run) || rc=$?
exit_is "bob may not" 9 "$rc" "$out"
rc=0; out=$(as alice privacy retention run) || rc=$?
exit_is "a retention run" 0 "$rc" "$out"
has_line "...manual, OK, one lead" "manual .* OK .*stale-leads=1 old-activities=0" "$out"
lacks "the stale lead is anonymized" "Babbage" "$(as alice leads get leads/babbage)"
has "Hamilton's (fresh) lead is not" "Hamilton" "$(as alice leads get leads/hamilton)"
has "the run is listed" "retentionRuns/" "$(as alice privacy retention runs)"
has "the run is audited" "privacy.retention" "$(as alice audit list --filter 'action = "privacy.retention"')"
rc=0; out=$(as alice audit verify) || rc=$?
exit_is "the audit trail still verifies" 0 "$rc" "$out"

echo "--- no value left in the database"
if [[ "$backend" == postgresql ]]; then
  dump=$(pg_dump "${pg_args[@]}" --no-owner "$pg_db")
else
  dump=$(cat var/dev/*.db* 2>/dev/null | tr -c '[:print:]' '\n' || true)
  [[ -n "$dump" ]] || dump=$(find . -name '*.db*' -exec cat {} + | tr -c '[:print:]' '\n')
fi
has "the dump is readable (Lovelace is there)" "Lovelace" "$dump"
lacks "no Dijkstra in the dump" "Dijkstra" "$dump"
lacks "no edsger@soylent.example in the dump" "edsger@soylent.example" "$dump"
lacks "no trace of the call" "volume pricing" "$dump"
lacks "no trace of the retained lead" "Difference Engines" "$dump"

finish
