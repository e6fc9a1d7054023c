#!/usr/bin/env bash
# Runs Pedigree's fuzz targets (fuzz/) under libFuzzer for a while each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 300 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz passes nightly-only
# flags to rustc; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them (set here), and with a
# nightly toolchain `FUZZ_TOOLCHAIN=+nightly scripts/fuzz.sh` uses it instead. Targets are
# built without a sanitizer (`-s none`, as the code under test is safe Rust; set
# FUZZ_SANITIZER=address to add ASan), optimised (FUZZ_PROFILE=--dev for a quicker build, as
# CI does), and with debug assertions (overflow checks) on.
#
# New inputs found are kept in fuzz/artifacts/corpus/<target>/ (not committed; copy a small,
# interesting one into fuzz/corpus/<target>/ to keep it). A crash stops the target, leaves
# the input in fuzz/artifacts/<target>/, and makes this script exit 1 once every target ran;
# `cargo fuzz run <target> <file>` replays it. A summary line per target (executions, new
# coverage, crashes) is printed at the end.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds="${1:-300}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(gs1_parse event_decode merkle_proofs note_checkpoint image_payload)
fi
toolchain="${FUZZ_TOOLCHAIN:-}"
sanitizer="${FUZZ_SANITIZER:-none}"
profile="${FUZZ_PROFILE:---release}"
if [ -z "$toolchain" ]; then
  export RUSTC_BOOTSTRAP=1
fi

if ! cargo $toolchain fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

cargo $toolchain fuzz build -s "$sanitizer" --debug-assertions "$profile" || exit 2

failed=0
summary=()
for target in "${targets[@]}"; do
  work="artifacts/corpus/$target"
  mkdir -p "$work"
  log="artifacts/$target.log"
  echo "== $target: ${seconds}s =="
  cargo $toolchain fuzz run -s "$sanitizer" --debug-assertions "$profile" "$target" \
    "$work" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
  added=$(awk '/stat::new_units_added/ { print $2 }' "$log")
  if [ "$status" -ne 0 ]; then
    failed=1
    tail -n 30 "$log"
    summary+=("$target: CRASH after ${runs:-?} executions (exit $status; input in fuzz/artifacts/$target/, log $log)")
  else
    summary+=("$target: ${runs:-?} executions in ${seconds}s, ${added:-?} new coverage inputs, no crash")
  fi
done

echo
echo "== fuzz summary =="
printf '%s\n' "${summary[@]}"
exit "$failed"
