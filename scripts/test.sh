#!/usr/bin/env bash
# Run the whole test suite. Creates .venv and installs the pinned requirements if needed.
#   scripts/test.sh              all tests (PostgreSQL/Redis tests skip, visibly, if absent)
#   REQUIRE_SERVICES=1 scripts/test.sh   ...and fail instead of skipping (what CI does)
#   scripts/test.sh -k concurrency        extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
exec "$PYTHON" -m pytest "$@"
