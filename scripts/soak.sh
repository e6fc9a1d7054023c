#!/usr/bin/env bash
# Soak (not CI): PEDIGREE_SOAK_SECS (default 600) of load on `pedigree ledger` (a release
# build unless PEDIGREE_SOAK_PROFILE=debug): two clients send the supply-chain stream of the
# crash harness, PEDIGREE_SOAK_VERIFIERS (default 4) send pharmacies' verifications of
# PEDIGREE_SOAK_PACKS commissioned packs (default 1000000) in requests of PEDIGREE_SOAK_BATCH
# events (default 1000). The ledger's RSS is sampled every 5 s; every refused request or event
# is an error. The summary goes to target/reliability/soak-<time>.txt (see tests/crash_soak.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

export PEDIGREE_SOAK_SECS="${PEDIGREE_SOAK_SECS:-600}"
profile=(--release)
if [ "${PEDIGREE_SOAK_PROFILE:-release}" = debug ]; then
    profile=()
fi
mkdir -p target/reliability
export PEDIGREE_SOAK_REPORT="$PWD/target/reliability/soak-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "soak of ${PEDIGREE_SOAK_SECS} s (${PEDIGREE_SOAK_PROFILE:-release} build); summary: $PEDIGREE_SOAK_REPORT"
cargo test "${profile[@]}" --test crash_soak -- --ignored --nocapture
echo
cat "$PEDIGREE_SOAK_REPORT"
