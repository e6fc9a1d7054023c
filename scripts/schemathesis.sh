#!/usr/bin/env bash
# Fuzzes every HTTP API of Pedigree from its own OpenAPI document (GET /openapi.json) with
# schemathesis, against `pedigree up` on 127.0.0.1, and fails on any 5xx answer.
#
#   scripts/schemathesis.sh [MAX_EXAMPLES]       default 100 per operation
#
# Installs schemathesis from PyPI into a virtualenv under target/ (SCHEMATHESIS_VENV to
# change it). The network runs from a fresh data directory on ports PEDIGREE_BASE_PORT (default
# 17700) to +3, seeded with the demo supply chain; the party services are called with their
# demo operator tokens. Reports (JUnit XML) go to target/schemathesis/. Results are recorded
# in docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

examples="${1:-100}"
venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
base="${PEDIGREE_BASE_PORT:-17700}"
reports="target/schemathesis"

if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis>=4,<5"
fi
"$venv/bin/schemathesis" --version

cargo build --quiet --bin pedigree
data=$(mktemp -d)
mkdir -p "$reports"
target/debug/pedigree up --data-dir "$data" --port "$base" >"$reports/up.log" 2>&1 &
up=$!
cleanup() {
  # `pedigree up` stops on Ctrl-C (SIGINT); SIGTERM only stops its servers.
  kill -INT "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  if grep -q "Pedigree is running" "$reports/up.log"; then break; fi
  if ! kill -0 "$up" 2>/dev/null; then cat "$reports/up.log"; exit 2; fi
  sleep 0.5
done
grep -q "Pedigree is running" "$reports/up.log" || { echo "pedigree up did not start" >&2; exit 2; }

failed=0
run() {
  local name="$1" port="$2"
  shift 2
  echo "== $name (http://127.0.0.1:$port) =="
  if ! "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
      --url "http://127.0.0.1:$port" \
      --checks not_a_server_error \
      --max-examples "$examples" \
      --seed 1 \
      --report junit --report-dir "$reports/$name" \
      "$@"; then
    failed=1
  fi
}
run ledger "$base"
run manufacturer $((base + 1)) -H "Authorization: Bearer $(cat "$data/acme-pharma.token")"
run distributor $((base + 2)) -H "Authorization: Bearer $(cat "$data/medilog.token")"
run pharmacy $((base + 3)) -H "Authorization: Bearer $(cat "$data/city-pharmacy.token")"
exit "$failed"
