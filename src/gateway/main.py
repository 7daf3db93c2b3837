"""`uvicorn gateway.main:app --no-proxy-headers`: the app, configured from the environment."""

from __future__ import annotations

import sys

from gateway.app import create_app
from gateway.logs import configure_logging
from gateway.settings import ConfigError

configure_logging()
try:
    app = create_app()
except ConfigError as error:
    print(f"gateway: {error}", file=sys.stderr)
    raise SystemExit(2) from None
