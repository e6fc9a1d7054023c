#!/usr/bin/env bash
# The long run of the crash and outage tests (CI runs them small; see docs/RELIABILITY.md):
#   - the ledger killed with SIGKILL at PEDIGREE_CRASH_KILLS random moments (default 2000)
#     on SQLite, and PEDIGREE_CRASH_PG_KILLS (default 200) on PostgreSQL when
#     PEDIGREE_TEST_POSTGRES_URL is set;
#   - the manufacturer's party service killed PEDIGREE_CRASH_PARTY_KILLS times (default 400);
#   - a ledger outage of PEDIGREE_OUTAGE_SECS (default 300 s) under a party service's load.
# PEDIGREE_CRASH_SEED picks the kill moments (default: the date, printed). Output goes to
# target/reliability/crash-soak-<time>.log; the figures are the lines the tests print.
set -euo pipefail
cd "$(dirname "$0")/.."

export PEDIGREE_CRASH_KILLS="${PEDIGREE_CRASH_KILLS:-2000}"
export PEDIGREE_CRASH_PG_KILLS="${PEDIGREE_CRASH_PG_KILLS:-200}"
export PEDIGREE_CRASH_PARTY_KILLS="${PEDIGREE_CRASH_PARTY_KILLS:-400}"
export PEDIGREE_OUTAGE_SECS="${PEDIGREE_OUTAGE_SECS:-300}"
export PEDIGREE_CRASH_SEED="${PEDIGREE_CRASH_SEED:-$(date +%Y%m%d)}"
export PEDIGREE_CRASH_AUDIT_EVERY="${PEDIGREE_CRASH_AUDIT_EVERY:-200}"

mkdir -p target/reliability
log="target/reliability/crash-soak-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "seed $PEDIGREE_CRASH_SEED; ledger kills $PEDIGREE_CRASH_KILLS (PostgreSQL $PEDIGREE_CRASH_PG_KILLS)," \
     "party kills $PEDIGREE_CRASH_PARTY_KILLS, outage ${PEDIGREE_OUTAGE_SECS} s; log: $log"

status=0
for test in crash_ledger crash_party outage; do
    if ! cargo test --test "$test" -- --nocapture --test-threads 1 2>&1 | tee -a "$log"; then
        status=1
    fi
done
echo
echo "summary:"
grep -E '^(crash harness|party crash harness|outage:)|test result' "$log" || true
exit "$status"
