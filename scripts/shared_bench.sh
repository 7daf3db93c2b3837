#!/usr/bin/env bash
# Add this gateway as the "gateway" target of the shared benchmark harness (../shared/bench)
# and run it: the gateway, a bare FastAPI pass-through (httpx and aiohttp) and LiteLLM, each
# pinned to one core, against the same nginx mock upstream, in the same run.
#   scripts/shared_bench.sh                                   # full run (~25 min)
#   ROUNDS=1 DUR=5 WARM=2 scripts/shared_bench.sh             # quick look (~5 min)
#   TARGETS="fastapi-aiohttp gateway" scripts/shared_bench.sh # just the comparison that matters
# Needs the harness set up once (as root): cp -r ../shared/bench DIR && DIR/setup.sh
# BENCH_DIR names that writable copy (default: a copy made next to this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ROOT=$(pwd)
BENCH_DIR=${BENCH_DIR:-$(dirname "$ROOT")/benchrun/bench}
if [ ! -x "$BENCH_DIR/run.sh" ]; then
    echo "no harness at $BENCH_DIR: cp -r ../shared/bench $BENCH_DIR && $BENCH_DIR/setup.sh" >&2
    exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
DB="sqlite:///$WORK/gateway.db"
GATEWAY_KEY=$(SECRET_KEY=$SECRET_KEY "$ROOT/.venv/bin/python" scripts/bench_seed.py --database-url "$DB")
export GATEWAY_KEY
export GATEWAY_CMD="env DATABASE_URL=$DB SECRET_KEY=$SECRET_KEY UPSTREAM_BASE_URL=http://127.0.0.1:18080/v1 \
LOG_LEVEL=WARNING $ROOT/.venv/bin/uvicorn gateway.main:app --no-proxy-headers --host 127.0.0.1 --port 18084 \
--no-access-log --log-level warning"
export TARGETS=${TARGETS:-"direct nginx fastapi fastapi-aiohttp gateway litellm"}
export REPORT_OUT=${REPORT_OUT:-$ROOT/bench-results/shared-$(date +%Y%m%d-%H%M%S).md}
mkdir -p "$(dirname "$REPORT_OUT")"
"$BENCH_DIR/run.sh"
echo "report: $REPORT_OUT"
