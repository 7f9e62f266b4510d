#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang++-14, ASan+UBSan) in their own
# build directory and runs each one for a while over its committed corpus.
#
#   scripts/fuzz.sh                         every target for 5 s (a smoke run)
#   scripts/fuzz.sh --seconds 3600 --jobs 2 every target for an hour, two at
#                                           a time (a long run; fuzz/README.md)
# Options:
#   --seconds N      run each target for N seconds (default 5)
#   --jobs J         run J targets at the same time (default 1)
#   --targets a,b    only these targets (names as in fuzz/corpus/: filter,
#                    checked_filter, order_by, page_token, resource_name,
#                    record_codec, cidr, login_hours, config)
#   --build-dir DIR  the fuzz build (default build-fuzz)
#   --scratch DIR    where new corpus entries, crash reproducers and logs go
#                    (default DIR/fuzz-scratch); never inside fuzz/
#   --no-build       use the targets already built
#
# The committed corpus fuzz/corpus/<target>/ is only read: every entry in it
# (hand-made seeds, and regress-* reproducers of past findings) runs first,
# then libFuzzer writes what it discovers to SCRATCH/corpus/<target>/.
# Exit status 1 if any target finds something (crash, sanitizer report,
# failed property, leak, timeout, out of memory); the reproducer is
# SCRATCH/artifacts/<target>-crash-... and the summary says how to rerun it
# (the next run of that target removes it: copy it to fuzz/corpus/ first).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

seconds=5
jobs=1
targets=""
build_dir=build-fuzz
scratch=""
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --scratch) scratch=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$scratch" ] || scratch=$build_dir/fuzz-scratch
case "$(realpath -m "$scratch")/" in
  "$src/fuzz/"*) echo "fuzz.sh: --scratch must not be inside fuzz/" >&2; exit 2 ;;
esac
if [ -z "$targets" ]; then
  targets=$(cd fuzz && ls -1 *_fuzzer.cc | sed 's/_fuzzer\.cc$//' | paste -sd, -)
fi
IFS=, read -r -a names <<<"$targets"

if [ "$build" = 1 ]; then
  if ! command -v clang++-14 >/dev/null ||
     ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
        >/dev/null 2>&1; then
    echo "fuzz.sh: needs clang-14 and libclang-rt-14-dev (scripts/install-deps.sh)" >&2
    exit 2
  fi
  # ccache keys on paths relative to the checkout, as in scripts/build.sh.
  export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCRM_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" --target crm_fuzzers -j"$(nproc)"
fi

mkdir -p "$scratch"/{corpus,artifacts,logs}
scratch=$(realpath "$scratch")
bin_dir=$(realpath "$build_dir")/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Inputs longer than the parsers' own limits (filter 2048 bytes, page
# token 8192, order_by 1024) must be tried too.
max_len() {
  case "$1" in
    config|page_token) echo 12000 ;;
    *) echo 4200 ;;
  esac
}

run_one() {
  local name=$1 bin="$bin_dir/${1}_fuzzer"
  local dict="$src/fuzz/dict/$name.dict"
  local args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048
              -max_len="$(max_len "$name")" -print_final_stats=1
              -artifact_prefix="$scratch/artifacts/$name-")
  [ -f "$dict" ] && args+=(-dict="$dict")
  mkdir -p "$scratch/corpus/$name" "$src/fuzz/corpus/$name"
  # Run from the scratch directory: libFuzzer writes stray files (fuzz-N.log)
  # to the working directory. nice: the machine is shared.
  local rc=0
  (cd "$scratch" &&
   nice -n 10 "$bin" "${args[@]}" "$scratch/corpus/$name" \
     "$src/fuzz/corpus/$name") >"$scratch/logs/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$scratch/logs/$name.rc"
}

for name in "${names[@]}"; do
  [ -x "$bin_dir/${name}_fuzzer" ] || {
    echo "fuzz.sh: no target $bin_dir/${name}_fuzzer" >&2; exit 2; }
  # Reproducers of an earlier run: copy them to fuzz/corpus/ to keep them.
  rm -f "$scratch/logs/$name.rc" "$scratch/artifacts/$name-"*
done
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  echo "fuzz.sh: $name for ${seconds}s (log: $scratch/logs/$name.log)"
  run_one "$name" &
done
wait
declare -A status_of
for name in "${names[@]}"; do
  rc=$(cat "$scratch/logs/$name.rc" 2>/dev/null || echo missing)
  if [ "$rc" = 0 ]; then
    status_of[$name]=ok
  else
    status_of[$name]="FAILED(exit $rc)"
  fi
done

# Summary: libFuzzer's final status line (cov = coverage points, ft =
# features, corp = corpus entries/bytes) and its final stats.
summary="$scratch/summary.tsv"
printf 'target\tseconds\texecutions\texec/s\tcov\tft\tcorpus\tnew_units\tpeak_rss_mb\tresult\n' >"$summary"
failed=0
for name in "${names[@]}"; do
  log="$scratch/logs/$name.log"
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  field() { sed -n "s/.* $1: \\([^ ]*\\).*/\\1/p" <<<"$last"; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$seconds" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$(field cov)" "$(field ft)" "$(field corp)" "$(stat new_units_added)" \
    "$(stat peak_rss_mb)" "${status_of[$name]}" >>"$summary"
  if [ "${status_of[$name]}" != ok ]; then
    failed=1
  fi
done
column -t -s $'\t' "$summary"
if [ "$failed" = 1 ]; then
  echo
  for name in "${names[@]}"; do
    [ "${status_of[$name]}" = ok ] && continue
    echo "== $name: ${status_of[$name]}; the end of $scratch/logs/$name.log:"
    pattern='FUZZ_CHECK|ERROR|runtime error|SUMMARY|Test unit written'
    if grep -qE "$pattern" "$scratch/logs/$name.log"; then
      grep -E "$pattern" "$scratch/logs/$name.log" | head -20
    else
      tail -30 "$scratch/logs/$name.log"
    fi
    for a in "$scratch/artifacts/$name-"*; do
      [ -e "$a" ] || continue
      echo "   reproduce: $bin_dir/${name}_fuzzer $a"
    done
  done
  echo "fuzz.sh: findings above; a fixed finding's reproducer goes to"
  echo "fuzz/corpus/<target>/regress-<what> (fuzz/README.md)"
  exit 1
fi
echo "fuzz.sh: no findings (summary: $summary)"
