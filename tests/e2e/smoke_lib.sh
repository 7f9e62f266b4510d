# Check helpers shared by the e2e smoke scripts (sourced, not run).
# Each check prints "ok: LABEL" or "FAIL: LABEL" with the output it saw and
# counts it; `finish` prints the totals and exits non-zero if any failed.
passed=0
failed=0

ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}
# has LABEL WANT_SUBSTRING OUTPUT
has() {
  if grep -qF -- "$2" <<<"$3"; then ok "$1"; else
    fail "$1: expected '$2' in:"; sed 's/^/    /' <<<"$3"; fi
}
# has_line LABEL EXTENDED_REGEX OUTPUT
has_line() {
  if grep -qE -- "$2" <<<"$3"; then ok "$1"; else
    fail "$1: expected a line matching '$2' in:"; sed 's/^/    /' <<<"$3"; fi
}
# lacks LABEL UNWANTED_SUBSTRING OUTPUT
lacks() {
  if grep -qF -- "$2" <<<"$3"; then
    fail "$1: did not expect '$2' in:"; sed 's/^/    /' <<<"$3"; else ok "$1"; fi
}
# exit_is LABEL WANT GOT OUTPUT
exit_is() {
  if [[ "$3" == "$2" ]]; then ok "$1 (exit $3)"; else
    fail "$1: exit $3, expected $2:"; sed 's/^/    /' <<<"$4"; fi
}
