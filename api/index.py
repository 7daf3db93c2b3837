"""Vercel's Python entry point: the same ASGI app as `uvicorn gateway.main:app`.

Vercel installs requirements.txt but not this package, so `src/` is put on the path.
Functions share nothing but the database (and Redis): use DATABASE_URL=postgresql://...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from gateway.main import app

__all__ = ["app"]
