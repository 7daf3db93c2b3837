"""Vercel's Python entry point: the gateway's ASGI app, the one `uvicorn gateway.main:app`
serves. Vercel imports this file, runs the app's lifespan once per instance, then hands it
each request (`vercel.json` rewrites every path here).

On Vercel (`VERCEL=1`) the settings refuse SQLite and require SECRET_KEY: a bad value fails
the import with a message naming it, which Vercel shows in the function's log. See the
README's "Serverless (Vercel)" for what runs where.
"""

import sys
from pathlib import Path

# Vercel installs the project itself from pyproject.toml and uv.lock; `src/` on the path also
# serves a deployment that installed only the requirements.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from gateway.app import create_app
from gateway.logs import configure_logging

configure_logging()
# Not `gateway.main`, which exits on a bad setting: a ConfigError raised here reaches Vercel's
# loader, which reports it as the function's start-up error.
app = create_app()

__all__ = ["app"]
