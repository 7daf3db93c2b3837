#!/usr/bin/env bash
# Start the gateway on the embedded default (SQLite file, in-process caches, built-in
# simulated upstream unless UPSTREAM_BASE_URL is set). Creates .venv on first run.
#   scripts/serve.sh                     http://127.0.0.1:8000
#   scripts/serve.sh --port 9000 --host 0.0.0.0
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
exec "$PYTHON" -m gateway serve "$@"
