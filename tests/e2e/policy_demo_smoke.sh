#!/usr/bin/env bash
# policy_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]
#
# The README's "Access policy walk-through", run as a user runs it: starts
# crm_server --demo with the dev config and dev certificates (as
# scripts/dev.sh does, in a temp directory shaped like the repository,
# listening on 127.0.0.1 port 0) on a fresh SQLite file or, with
# "postgresql", a fresh database in the cluster named by
# $CRM_TEST_PG_DIR/conninfo (tests/pg/pg_cluster.sh). Then, through the
# built crmctl only, checks what the demo organisation promises:
#   - bob (Sales Rep) sees his accounts and the one frank shared with him;
#     erin (their Sales Manager) sees her team's; nobody below alice sees
#     alice's;
#   - contacts.personal_phone (sensitive) is stored encrypted (enc:v1:...),
#     cannot be filtered on, personal_email filters by equality;
#   - contacts.personal_phone (sensitive) is absent for bob, present and
#     editable for erin and alice;
#   - bob may edit an account but not its annual_revenue: PERMISSION_DENIED
#     naming the field, and the record is unchanged;
#   - a criteria-based sharing rule created with `crmctl policy create`
#     shows the matching accounts on bob's very next request, and deleting
#     it hides them again;
#   - a manual share and unshare through `crmctl share/shares/unshare`, and
#     a transfer of ownership (`crmctl transfer`);
#   - policy as files: export, validate, plan (bob gains Soylent Foods and
#     Duff Stores), apply (bob's next request; with postgresql also on a
#     second server), idempotent re-apply, a stale plan refused, history,
#     diff and rollback; the Retail rule as a shadow policy: not enforced,
#     bob's list disagrees on the two records, audrey's report names them
#     with both answers (with postgresql the second server compares too),
#     cleared;
#   - data key rotation: `crmctl keys status`, `keys rotate` (bob refused),
#     ada's stored phone under the new key and still read (with postgresql
#     also by the second server), `keys rotate --resume`, the audit events;
#   - data sources: billing may write an opportunity's amount, not its
#     description (the source rule, nothing written); provenance and
#     history of contacts/ada and the deal; a hidden record NOT_FOUND; an
#     illegitimate source kind refused;
#   - consent: the campaigns service (purpose marketing) sees only the
#     contacts opted in to marketing; a web-form opt-out (the marketing
#     service, data source web-forms) hides Ada from it on the next request
#     (NOT_FOUND), not from bob; consent get/history; campaigns may not
#     record consent;
#   - the access review walk-through (`crmctl access ...`, view_audit): why
#     bob sees Globex and Acme, refusals naming their layer, who can see
#     Acme, bob's summary and permissions, and bob refused (no view_audit).
# Fails loudly (every failed check printed with the output it saw).
set -euo pipefail
build=$(cd "${1:?usage: policy_demo_smoke.sh BUILD_DIR [SOURCE_DIR] [sqlite|postgresql]}" && pwd)
src=$(cd "${2:-$(dirname "$0")/../..}" && pwd)
backend=${3:-sqlite}
demo_name=policy-demo
source "$src/tests/e2e/demo_server.sh"

count_accounts() {  # USER: how many accounts the user's list shows
  as "$1" --output json accounts list --page-size 1000 | grep -c '"name": *"accounts/' || true
}

# The port file appears before --demo has loaded; the policy takes effect
# within the server's 1 s policy refresh. Wait for bob to see his accounts.
for _ in $(seq 1 200); do
  if login bob && [[ "$(count_accounts bob)" == 3 ]]; then break; fi
  sleep 0.1
done
for user in alice bob erin frank audrey; do
  if login "$user"; then ok "$user logs in"; else fail "$user cannot log in"; finish; fi
done

echo "--- who sees what"
out=$(as bob accounts list)
for want in "Acme Ltd" "Initech" "Globex Corporation"; do
  has "bob sees $want" "$want" "$out"
done
for hidden in "Soylent Foods" "Duff Stores" "Umbrella Pharma"; do
  lacks "bob does not see $hidden" "$hidden" "$out"
done
n=$(count_accounts bob); [[ "$n" == 3 ]] && ok "bob lists 3 accounts" || fail "bob lists $n accounts, expected 3"
rc=0; out=$(as bob accounts get accounts/umbrella) || rc=$?
exit_is "bob: accounts/umbrella is NOT_FOUND" 7 "$rc" "$out"
has "NOT_FOUND names the record only" "accounts/umbrella not found" "$out"
out=$(as frank shares accounts/globex)
has "frank: globex is shared with bob" "accounts/globex/shares/demo-globex-bob  users/bob  READ" "$out"
rc=0; out=$(as bob shares accounts/globex) || rc=$?
exit_is "bob (read share) may not list globex's shares" 9 "$rc" "$out"

out=$(as erin accounts list)
for want in "Acme Ltd" "Initech" "Globex Corporation" "Soylent Foods" "Duff Stores"; do
  has "erin (manager) sees $want" "$want" "$out"
done
lacks "erin does not see alice's Umbrella Pharma" "Umbrella Pharma" "$out"
n=$(count_accounts alice); [[ "$n" == 6 ]] && ok "alice (view all) lists 6 accounts" || fail "alice lists $n accounts, expected 6"

echo "--- a sensitive field"
out=$(as bob contacts get contacts/ada)
has "bob reads contacts/ada" "Lovelace" "$out"
lacks "bob: personal_phone is absent" "personal_phone" "$out"
out=$(as erin contacts get contacts/ada)
has "erin: personal_phone is present" "+44 7700 900123" "$out"
rc=0; out=$(as erin contacts update contacts/ada personal_phone="+44 7700 900999") || rc=$?
exit_is "erin edits personal_phone" 0 "$rc" "$out"
has "alice sees erin's new personal_phone" "+44 7700 900999" "$(as alice contacts get contacts/ada)"
rc=0; out=$(as bob contacts update contacts/ada personal_phone="+1") || rc=$?
exit_is "bob may not write personal_phone" 9 "$rc" "$out"
# Encrypted at rest: the column holds enc:v1:... values, never the number.
if [[ "$backend" == postgresql ]]; then
  raw=$(psql "${pg_args[@]}" -d "$pg_db" -At -c "select personal_phone from contacts where id = 'ada'")
else
  raw=$(sqlite3 var/dev/crm.db "select personal_phone from contacts where id = 'ada'")
fi
has "personal_phone is stored encrypted" "enc:v1:dk" "$raw"
lacks "the stored personal_phone is not the number" "900999" "$raw"
out=$(as alice contacts list --filter 'personal_email = "ADA@home.example"')
has "personal_email equality through its blind index" "Lovelace" "$out"
rc=0; out=$(as alice contacts list --filter 'personal_phone = "+44 7700 900999"') || rc=$?
exit_is "filtering on an encrypted field is refused" 5 "$rc" "$out"
has "the refusal names the field" "contacts.personal_phone is encrypted at rest" "$out"

echo "--- an unwritable field"
before=$(as bob --output json accounts get accounts/acme)
rc=0; out=$(as bob accounts update accounts/acme annual_revenue=1) || rc=$?
exit_is "bob: annual_revenue refused" 9 "$rc" "$out"
has "the refusal names the field" "annual_revenue" "$out"
has "the refusal is PERMISSION_DENIED" "PERMISSION_DENIED" "$out"
after=$(as bob --output json accounts get accounts/acme)
[[ "$before" == "$after" ]] && ok "accounts/acme unchanged" \
  || { fail "accounts/acme changed:"; diff <(echo "$before") <(echo "$after") || true; }
rc=0; out=$(as bob accounts update accounts/acme phone="+44 161 496 0000") || rc=$?
exit_is "bob may edit other fields of his account" 0 "$rc" "$out"

echo "--- a criteria-based sharing rule, live"
rc=0; out=$(as bob policy list roles) || rc=$?
exit_is "bob may not manage the policy" 9 "$rc" "$out"
out=$(as alice users list)
has_line "users list: erin is a sales manager" "^users/erin .* profiles/sales-manager +roles/sales-manager " "$out"
has_line "users list: frank is a sales rep" "^users/frank .* profiles/sales-rep +roles/sales-rep " "$out"
out=$(as alice policy list permissionSets)
for want in permissionSets/admin permissionSets/sales permissionSets/sales-managers; do
  has "alice lists $want" "$want" "$out"
done
out=$(as alice policy get orgWideDefaults/accounts)
has "the accounts default is PRIVATE" "PRIVATE" "$out"
rc=0
out=$(as alice policy create sharingRules retail \
  '{"display_name": "Retail accounts for the reps", "object": "accounts", "criteria": "industry = \"Retail\"", "shared_with": {"role": "roles/sales-rep"}, "access": "READ"}') || rc=$?
exit_is "alice creates sharingRules/retail" 0 "$rc" "$out"
out=$(as bob accounts list)
has "next request: bob sees Soylent Foods" "Soylent Foods" "$out"
has "next request: bob sees Duff Stores" "Duff Stores" "$out"
lacks "the rule does not show Umbrella Pharma" "Umbrella Pharma" "$out"
has "alice lists the rule" "sharingRules/retail" "$(as alice policy list sharingRules)"
rc=0; out=$(as alice policy delete sharingRules/retail) || rc=$?
exit_is "alice deletes the rule" 0 "$rc" "$out"
out=$(as bob accounts list)
lacks "rule gone: Soylent Foods hidden again" "Soylent Foods" "$out"
lacks "rule gone: Duff Stores hidden again" "Duff Stores" "$out"
rc=0; out=$(as alice policy create sharingRules bad '{"object": "accounts", "criteria": "revenue > 1", "shared_with": {"role": "roles/sales-rep"}, "access": "READ"}') || rc=$?
exit_is "a rule that does not compile is refused (INVALID_ARGUMENT)" 5 "$rc" "$out"
has "the refusal names the unknown field" "revenue" "$out"

echo "--- a manual share"
out=$(as frank share accounts/soylent users/bob read)
has "frank shares soylent with bob" "accounts/soylent/shares/" "$out"
share=$(sed -n 's/^name *\(accounts\/soylent\/shares\/[^ ]*\)$/\1/p' <<<"$out")
has "bob sees the shared Soylent Foods" "Soylent Foods" "$(as bob accounts list)"
rc=0; out=$(as frank unshare "$share") || rc=$?
exit_is "frank unshares it" 0 "$rc" "$out"
lacks "unshared: bob no longer sees Soylent Foods" "Soylent Foods" "$(as bob accounts list)"

echo "--- a transfer"
rc=0; out=$(as bob transfer accounts/initech frank) || rc=$?
exit_is "bob transfers accounts/initech to frank" 0 "$rc" "$out"
has "the new owner is users/frank" "users/frank" "$out"
lacks "bob no longer sees Initech" "Initech" "$(as bob accounts list)"
has "frank sees Initech" "Initech" "$(as frank accounts list)"
has "erin still sees Initech (frank is on her team)" "Initech" "$(as erin accounts list)"

echo "--- data sources and provenance"
has "alice lists the demo's data sources" "dataSources/billing" "$(as alice policy list dataSources)"
billing() { "$crmctl" --cert certs/out/billing.pem --key certs/out/billing.key "$@" 2>&1; }
rc=0; out=$(billing opportunities update opportunities/acme-widgets amount=130000) || rc=$?
exit_is "billing writes an opportunity's amount (its accounting source)" 0 "$rc" "$out"
before=$(as alice --output json opportunities get opportunities/acme-widgets)
rc=0; out=$(billing opportunities update opportunities/acme-widgets description=paid) || rc=$?
exit_is "billing may not write the description: no source lists it" 9 "$rc" "$out"
has "the refusal names the source rule" "no data source of services/billing lists opportunities.description" "$out"
after=$(as alice --output json opportunities get opportunities/acme-widgets)
[[ "$before" == "$after" ]] && ok "opportunities/acme-widgets unchanged" \
  || { fail "opportunities/acme-widgets changed:"; diff <(echo "$before") <(echo "$after") || true; }
rc=0; out=$(as bob contacts update contacts/ada title=CTO) || rc=$?
exit_is "bob updates contacts/ada (crmctl: interactions)" 0 "$rc" "$out"
out=$(as bob provenance contacts/ada)
has_line "ada's title: source, service and actor" "^title +dataSources/crmctl +services/admin-cli +users/bob " "$out"
out=$(as alice provenance opportunities/acme-widgets)
has_line "the deal's amount came from billing" "^amount +dataSources/billing +services/billing +services/billing " "$out"
out=$(as bob history contacts/ada --field title)
has "the title's history keeps the value" "CTO" "$out"
rc=0; out=$(as bob provenance contacts/katherine) || rc=$?
exit_is "alice's contact is NOT_FOUND for bob" 7 "$rc" "$out"
rc=0; out=$(as alice policy create dataSources laptops '{"kind": "CUSTOMER_DEVICES", "service": "services/marketing", "writes": [{"object": "contacts"}]}') || rc=$?
exit_is "an illegitimate kind is refused" 5 "$rc" "$out"
has "...by name, saying why" "not a legitimate data source" "$out"

echo "--- consent: a web-form opt-out hides a contact from marketing"
campaigns() { "$crmctl" --cert certs/out/campaigns.pem --key certs/out/campaigns.key "$@" 2>&1; }
webforms() { "$crmctl" --cert certs/out/marketing.pem --key certs/out/marketing.key "$@" 2>&1; }
out=$(campaigns --output json contacts list)
has "campaigns (purpose marketing) sees Ada (opted in to e-mail)" '"contacts/ada"' "$out"
has "...and Grace" '"contacts/grace"' "$out"
lacks "...but not Katherine (never consented)" '"contacts/katherine"' "$out"
rc=0; out=$(campaigns contacts get contacts/katherine) || rc=$?
exit_is "campaigns: contacts/katherine is NOT_FOUND" 7 "$rc" "$out"
has "...as a missing record" "contacts/katherine not found" "$out"
out=$(as bob consent get contacts/ada)
has_line "bob sees ada's consent, recorded by the web forms" "^email +marketing +opted-in +dataSources/web-forms " "$out"
rc=0; out=$(webforms consent set contacts/ada --channel email --purpose marketing --state opted-out) || rc=$?
exit_is "the web forms record ada's opt-out" 0 "$rc" "$out"
lacks "the next request: campaigns no longer sees Ada" '"contacts/ada"' "$(campaigns --output json contacts list)"
rc=0; out=$(campaigns contacts get contacts/ada) || rc=$?
exit_is "campaigns: contacts/ada is now NOT_FOUND" 7 "$rc" "$out"
has "bob still sees Ada (no purpose)" '"contacts/ada"' "$(as bob --output json contacts list)"
out=$(as bob consent history contacts/ada)
has_line "ada's consent history: in, then out" "^2 +email +marketing +opted-in +opted-out +dataSources/web-forms " "$out"
rc=0; out=$(campaigns consent set contacts/grace --channel email --purpose marketing --state opted-in) || rc=$?
exit_is "campaigns may not record consent" 9 "$rc" "$out"

echo "--- access review (an auditor)"
out=$(as audrey access explain bob accounts/globex read)
has "globex: allowed" "ALLOWED: users/bob read accounts/globex" "$out"
has "globex: through frank's manual share" "manual-share" "$out"
out=$(as audrey access explain bob accounts/acme read)
has_line "acme: bob is the owner" "^owner +full" "$out"
out=$(as audrey access explain bob accounts/umbrella read)
has "umbrella: refused by record access" "refused by: record access" "$out"
out=$(as audrey access explain bob accounts/acme delete)
has "acme delete: refused by the object permission" "refused by: object permission" "$out"
out=$(as audrey access explain bob accounts/acme edit --field annual_revenue)
has "annual_revenue: refused by the field permission" "refused by: field permission" "$out"
out=$(as audrey access explain carol accounts/acme read --from 192.0.2.7)
has "carol from 192.0.2.7: refused by her login restriction" "refused by: login restriction" "$out"
out=$(as audrey access accessors accounts/acme)
has "acme accessors: erin through the hierarchy" "hierarchy (full) via users/bob > roles/sales-rep > roles/sales-manager" "$out"
lacks "acme accessors: not frank" "users/frank" "$out"
out=$(as audrey access summary bob)
has_line "bob's summary counts accounts" "^accounts +[0-9]+ " "$out"
out=$(as audrey access permissions bob)
has "bob's permissions name the sales set" "permissionSets/sales" "$out"
has "--json gives JSON" '"allowed": true' "$(as audrey access explain bob accounts/globex read --json)"
rc=0; out=$(as bob access summary bob) || rc=$?
has "bob may not review: view_audit" "view_audit" "$out"

echo "--- policy as files (export and validate)"
rc=0; out=$(as alice policy export policy) || rc=$?
exit_is "alice exports the policy" 0 "$rc" "$out"
has "a role is a file" 'parent: "roles/sales-manager"' "$(cat policy/roles/sales-rep.textproto)"
cp -r policy policy-again
as alice policy export policy-again >/dev/null
if diff -r policy policy-again >/dev/null; then ok "two exports are byte-identical"; else
  fail "two exports differ:"; diff -r policy policy-again | sed 's/^/    /'; fi
lacks "no etag inside" "etag" "$(cat policy/*/*.textproto)"
has "a service's own scope is exported (read-only)" 'object: "accounts"' "$(cat policy/services/billing.textproto)"
cp policy/services/billing.textproto billing.saved
sed -i '0,/read: true/s//read: true\n  delete: true/' policy/services/billing.textproto
rc=0; out=$(as alice policy plan policy) || rc=$?
exit_is "a bundle granting a service more through its own scope is refused" 5 "$rc" "$out"
has_line "...at the line that differs" 'services/billing.textproto:2:1 object_permissions' "$out"
has "...saying where the scope is set" "server's configuration file" "$out"
rc=0; out=$(as alice policy delete services/billing) || rc=$?
exit_is "a service's scope cannot be deleted through the API" 11 "$rc" "$out"
has "...READ_ONLY_OBJECT" "READ_ONLY_OBJECT" "$out"
mv billing.saved policy/services/billing.textproto
rc=0; out=$(ctl policy validate policy) || rc=$?
exit_is "the export validates offline" 0 "$rc" "$out"
printf 'object: "accounts"\ncriteria: "industry = \\"Retail\\""\nshared_with { role: "roles/sales-reps" }\naccess: READ\n' \
  > policy/sharingRules/retail.textproto
echo 'allowed_countries: "Frankreich"' >> policy/profiles/eu-partner.textproto
rc=0; out=$(ctl policy validate policy) || rc=$?
exit_is "a broken bundle fails" 1 "$rc" "$out"
has_line "the unknown role, with file and line" 'sharingRules/retail.textproto:3:[0-9]+: shared_with' "$out"
has_line "the bad country, with file and line" 'profiles/eu-partner.textproto:[0-9]+:[0-9]+: allowed_countries' "$out"

echo "--- policy as code (plan, apply, history, rollback)"
sed -i 's/sales-reps/sales-rep/' policy/sharingRules/retail.textproto
sed -i '$d' policy/profiles/eu-partner.textproto
rc=0; out=$(ctl policy validate policy) || rc=$?
exit_is "the fixed bundle validates" 0 "$rc" "$out"
# A second server on the same PostgreSQL database: the change made through
# the first is enforced by it on the very next request (LISTEN/NOTIFY).
pid2=""
if [[ "$backend" == postgresql ]]; then
  trap '[[ -n "$pid2" ]] && kill -KILL "$pid2" 2>/dev/null; cleanup' EXIT
  # Each server process needs its own audit spool directory: the same
  # config twice in one directory is refused at start-up.
  rc=0; out=$(timeout 60 "$server_bin" --config=server/dev.textproto "${database_flag[@]}" \
    --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 2>&1) || rc=$?
  [[ $rc -ne 0 ]] && ok "a second server on the same audit spool is refused (exit $rc)" \
    || fail "a second server shared the audit spool"
  has "...saying why" "is in use by another server process" "$out"
  sed 's|var/dev/audit-spool|var/dev/audit-spool-2|' server/dev.textproto >server/dev-2.textproto
  "$server_bin" --config=server/dev-2.textproto "${database_flag[@]}" \
    --listen=127.0.0.1:0 --port_file=port2 --metrics_listen=127.0.0.1:0 >server2.log 2>&1 &
  pid2=$!
  for _ in $(seq 1 300); do [[ -s port2 ]] && break; sleep 0.1; done
  [[ -s port2 ]] && ok "a second server starts" || { fail "no second server:"; cat server2.log; }
  target2="localhost:$(cat port2)"
  lacks "bob on the second server: no Soylent yet" "Soylent Foods" \
    "$(CRM_TARGET=$target2 as bob accounts list)"
fi
bob_before=$(count_accounts bob)
rc=0; out=$(as alice policy plan policy --user users/bob) || rc=$?
exit_is "alice plans the folder" 0 "$rc" "$out"
has "the plan adds the rule" "+ sharingRules/retail" "$out"
has "bob gains Soylent Foods" "accounts/soylent" "$out"
has "bob gains Duff Stores" "accounts/duff" "$out"
has "bob gains exactly 2 accounts" "accounts: +2 / -0 records (readable $bob_before -> $((bob_before + 2)))" "$out"
has "frank is affected too" "users/frank" "$out"
base=$(sed -n 's/.*--expect-version \([0-9]*\).*/\1/p' <<<"$out")
[[ -n "$base" ]] && ok "the plan names its version ($base)" || fail "no version in the plan"
rc=0; out=$(as alice policy apply policy --expect-version "$base" --message "Retail accounts for the reps") || rc=$?
exit_is "alice applies the plan" 0 "$rc" "$out"
has "a new version" "applied: policy version $((base + 1))" "$out"
n=$(count_accounts bob); [[ "$n" == $((bob_before + 2)) ]] && ok "bob's next request lists the 2 more the plan said" || fail "bob lists $n accounts after the apply, expected $((bob_before + 2))"
if [[ -n "$pid2" ]]; then
  has "bob on the second server sees Soylent Foods" "Soylent Foods" \
    "$(CRM_TARGET=$target2 as bob accounts list)"
fi
rc=0; out=$(as alice policy apply policy) || rc=$?
exit_is "applying again succeeds" 0 "$rc" "$out"
has "applying again changes nothing" "no change" "$out"
rc=0; out=$(as alice policy apply policy --expect-version "$base") || rc=$?
exit_is "a stale plan is refused" 11 "$rc" "$out"
has "POLICY_VERSION_MISMATCH" "POLICY_VERSION_MISMATCH" "$out"
has "the refusal says to plan again" "plan" "$out"
out=$(as alice policy history)
has "the history has the message" "Retail accounts for the reps" "$out"
has "the history names alice" "users/alice via services/admin-cli" "$out"
out=$(as alice policy diff "$base" "$((base + 1))")
has "the diff shows the rule's criteria" 'criteria: (none) -> "industry = \"Retail\""' "$out"
rc=0; out=$(as alice policy rollback "$base") || rc=$?
exit_is "alice rolls back" 0 "$rc" "$out"
has "the rollback removes the rule" "- sharingRules/retail" "$out"
has "the rollback is a new version" "applied: policy version $((base + 2))" "$out"
n=$(count_accounts bob); [[ "$n" == "$bob_before" ]] && ok "bob lists $bob_before accounts again" || fail "bob lists $n accounts after the rollback, expected $bob_before"

echo "--- shadow policy (the Retail rule watched on live traffic, not enforced)"
rc=0; out=$(as alice policy shadow set policy --message "Retail for the reps: watch first") || rc=$?
exit_is "alice sets the folder as the shadow policy" 0 "$rc" "$out"
has "the candidate differs by the rule" "+ sharingRules/retail" "$out"
v_shadow=$(sed -n 's/^shadow policy revision \([0-9]*\).*/\1/p' <<<"$out")
[[ -n "$v_shadow" ]] && ok "the shadow has a revision ($v_shadow)" || fail "no revision in: $out"
n=$(count_accounts bob); [[ "$n" == "$bob_before" ]] && ok "not enforced: bob still lists $bob_before accounts" || fail "bob lists $n accounts with the shadow set, expected $bob_before"
out=$(as alice policy shadow status)
has "bob's list disagreed on 2 records" "2 disagreements in 1 calls" "$out"
for _ in $(seq 1 100); do
  out=$(as audrey policy shadow report) || true
  grep -q "accounts/duff" <<<"$out" && break; sleep 0.1
done
has "the report names Soylent Foods" "accounts/soylent" "$out"
has "the report names Duff Stores" "accounts/duff" "$out"
has "the report gives the candidate's grant" "allow sharing-rule:sharingRules/retail" "$out"
has "the report gives the live refusal" "deny " "$out"
has "the report names who asked" "users/bob via services/admin-cli" "$out"
rc=0; out=$(as bob policy shadow report) || rc=$?
exit_is "bob may not read the report (view_audit)" 9 "$rc" "$out"
if [[ -n "$pid2" ]]; then
  # The candidate is in the database: the second server evaluates it too.
  for _ in $(seq 1 100); do
    CRM_TARGET=$target2 as bob accounts list >/dev/null
    out=$(CRM_TARGET=$target2 as alice policy shadow status)
    grep -q "[1-9][0-9]* disagreements" <<<"$out" && break; sleep 0.1
  done
  has "the second server compares too" "2 disagreements" "$out"
fi
rc=0; out=$(as alice policy shadow clear --expect-revision "$v_shadow") || rc=$?
exit_is "alice clears the shadow" 0 "$rc" "$out"
has "no shadow policy after clearing" "no shadow policy" "$out"

echo "--- data key rotation (README: Sensitive fields, encrypted at rest)"
raw_phone() {
  if [[ "$backend" == postgresql ]]; then
    psql "${pg_args[@]}" -d "$pg_db" -At -c "select personal_phone from contacts where id = 'ada'"
  else
    sqlite3 var/dev/crm.db "select personal_phone from contacts where id = 'ada'"
  fi
}
old_key=$(raw_phone | cut -d: -f3)
out=$(as alice keys status)
has "keys status names the current data key" "$old_key" "$out"
has "every value is under it" "every value is under the current data key $old_key" "$out"
rc=0; out=$(as bob keys rotate) || rc=$?
exit_is "bob may not rotate the data key" 9 "$rc" "$out"
has "the refusal names manage_policy" "manage_policy is required" "$out"
rc=0; out=$(as alice keys rotate --batch 2) || rc=$?
exit_is "alice rotates the data key" 0 "$rc" "$out"
has "a new current key" "(was $old_key)" "$out"
has "the demo's 5 contacts re-encrypted" "5 record(s) re-encrypted" "$out"
new_key=$(raw_phone | cut -d: -f3)
[[ -n "$new_key" && "$new_key" != "$old_key" ]] && ok "ada's phone is under the new key $new_key" \
  || fail "ada's phone is under '$new_key', expected a new key (was $old_key)"
has "the new key is the current one" "every value is under the current data key $new_key" "$(as alice keys status)"
has "ada's phone still reads" "+44 7700 900999" "$(as alice contacts get contacts/ada)"
if [[ -n "$pid2" ]]; then
  has "the second server reads it without a restart" "+44 7700 900999" \
    "$(CRM_TARGET=$target2 as alice contacts get contacts/ada)"
fi
rc=0; out=$(as alice keys rotate --resume) || rc=$?
exit_is "a resume with nothing left" 0 "$rc" "$out"
has "resumes under the same key" "resumed re-encryption under data key $new_key" "$out"
out=$(as audrey audit list --filter 'action = "keys.rotate" OR action = "keys.reencrypt"')
has "the rotation is audited" "dataKeys/$new_key" "$out"
lacks "no key material in the events" "wk:v1:" "$(as audrey --output json audit list --filter 'action = "keys.rotate"')"

if [[ -n "$pid2" ]]; then
  lacks "the second server follows the rollback" "Soylent Foods" \
    "$(CRM_TARGET=$target2 as bob accounts list)"
  kill -TERM "$pid2"; wait "$pid2" || true; pid2=""
fi

kill -TERM "$pid"; wait "$pid" || true; pid=""
finish
