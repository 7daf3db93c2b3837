"""Logging: plain lines on stderr. Never log prompts, completions, keys or secrets."""

from __future__ import annotations

import logging
import os

ACCESS_LOGGERS = ("uvicorn.access",)


class _QueryStringRedactor(logging.Filter):
    """Cuts the query string out of access-log lines.

    Clients put keys in query strings by mistake (`?api_key=gw_live_…`, an admin key as
    `?key=…`), and the server logs the request line before the gateway could refuse it.
    No route of the gateway reads a secret from the query, and nothing else in a query is
    worth the risk, so the whole query string goes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_has_query(arg) for arg in record.args):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _has_query(arg: object) -> bool:
    return isinstance(arg, str) and arg.startswith("/") and "?" in arg


def _without_query(arg: object) -> object:
    return arg.split("?", 1)[0] + "?…" if _has_query(arg) and isinstance(arg, str) else arg


def redact_access_logs() -> None:
    """Install the redactor on the server's access loggers (idempotent)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QueryStringRedactor) for f in logger.filters):
            logger.addFilter(_QueryStringRedactor())


def configure_logging() -> None:
    """The gateway's own loggers. (The access log's redactor is installed by `create_app`,
    which every way of serving the gateway goes through.)"""
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root = logging.getLogger("gateway")
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    root.propagate = False
