#!/bin/sh
# The container's command: migrate the database, then serve — the same `python -m gateway
# serve` as scripts/serve.sh, on all interfaces. Arguments are passed on to `serve`
# (`docker run IMAGE --workers 4`; a later --host/--port wins). `exec`: the server gets the
# container's SIGTERM itself and drains its requests (SHUTDOWN_GRACE_SECONDS).
set -eu
python -m gateway migrate
exec python -m gateway serve --host 0.0.0.0 --port 8000 "$@"
