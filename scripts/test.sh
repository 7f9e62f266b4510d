#!/usr/bin/env bash
# One command to a full test run: installs what is missing, builds, and runs
# every test with ctest (unit, integration, PostgreSQL: ctest starts and
# stops its own throwaway cluster).
#   scripts/test.sh              the normal build (build/)
#   scripts/test.sh --sanitize   an ASan+UBSan build (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dir=build
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  opts=(-DCMAKE_BUILD_TYPE=Debug -DCRM_SANITIZE=ON)
  # LeakSanitizer is on; tests/sanitizer/lsan.supp names the few third-party
  # leaks (c-ares, OpenSSL thread-local state on gRPC threads) that are not
  # ours. fast_unwind_on_malloc=0 gives full allocation stacks through
  # OpenSSL (built without frame pointers), which those entries need; it
  # makes the run about twice as slow.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0
fi
scripts/build.sh "$dir" "${opts[@]}"
ctest --test-dir "$dir" --output-on-failure -j2 --timeout 900
