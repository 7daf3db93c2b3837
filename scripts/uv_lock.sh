#!/usr/bin/env bash
# Write uv.lock — what Vercel installs from (it reads pyproject.toml, and a uv.lock beside it
# makes the install exact) — at requirements.txt's pins: uv resolves pyproject.toml's ranges,
# constrained to the pins. Run after changing requirements.txt; tests/unit/test_deploy.py
# fails until uv.lock agrees. Needs network access to the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/uv"
"$work/uv/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
mkdir "$work/project"
cp pyproject.toml README.md "$work/project/"
python3 - "$work/project/pyproject.toml" requirements.txt <<'PY'
import sys
from pathlib import Path

pyproject, requirements = Path(sys.argv[1]), Path(sys.argv[2])
pins = [line.strip() for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")]
constraints = "".join(f'    "{pin}",\n' for pin in pins)
pyproject.write_text(pyproject.read_text() + f"\n[tool.uv]\nconstraint-dependencies = [\n{constraints}]\n")
PY
"$work/uv/bin/uv" lock --quiet --directory "$work/project"
cp "$work/project/uv.lock" uv.lock
echo "uv.lock written ($(grep -c '^\[\[package\]\]' uv.lock) packages)"
