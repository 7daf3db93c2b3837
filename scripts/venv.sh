# Sourced by the other scripts: make .venv (Python 3.11+) with the pinned requirements.
# Reinstalls only when a requirements file changed since the last install.
PY_BOOT="${PYTHON_BOOTSTRAP:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PY_BOOT" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "Python 3.11+ is required (found $("$PY_BOOT" --version))" >&2; exit 1; }
    "$PY_BOOT" -m venv .venv
fi
PYTHON=.venv/bin/python
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] \
    || [ pyproject.toml -nt "$stamp" ]; then
    "$PYTHON" -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    "$PYTHON" -m pip install -q --disable-pip-version-check --no-deps -e .
    touch "$stamp"
fi
