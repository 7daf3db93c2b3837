"""Logging: lines on stderr, human (`LOG_FORMAT=text`) or one JSON object each (`json`, for log
shippers). Never log prompts, completions, keys or secrets.

A record may carry `fields` (`extra={"fields": {...}}`, as the access line does): `json` shows
them as keys of the object, `text` as `name=value` after the message — except those the record
names in `in_message` (already said by its message) and those unknown (None).
"""

from __future__ import annotations

import logging
import os
import weakref
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

ACCESS_LOGGERS = ("uvicorn.access",)
# The server's own loggers: in `json`, their lines are JSON too (those the server writes before
# it loads the app — its first start-up line, a supervisor's lines — stay as it formats them).
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
LogFormat = Literal["text", "json"]
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if not fields:
            return line
        said = getattr(record, "in_message", ())
        shown = " ".join(f"{name}={value}" for name, value in fields.items() if value is not None and name not in said)
        return f"{line} {shown}" if shown else line


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...fields, "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields: dict[str, Any] | None = getattr(record, "fields", None)
        if fields:
            document.update(fields)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        return orjson.dumps(document, default=str).decode()


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


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
    """Install the redactor on the server's access loggers (idempotent). The gateway writes its
    own access line (`gateway.access`); the server's, if left on, must not leak either."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QueryStringRedactor) for f in logger.filters):
            logger.addFilter(_QueryStringRedactor())


def configure_logging() -> None:
    """The gateway's own loggers, on stderr at LOG_LEVEL (idempotent). `create_app` then applies
    the settings' LOG_FORMAT (`use_format`)."""
    root = logging.getLogger("gateway")
    if root.handlers:
        return
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler()
    # Read here too, before the settings are: the lines logged while they load follow it as well.
    handler.setFormatter(formatter("json" if os.environ.get("LOG_FORMAT", "").strip().lower() == "json" else "text"))
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    root.propagate = False


_replaced: weakref.WeakKeyDictionary[logging.Handler, logging.Formatter | None] = weakref.WeakKeyDictionary()


def use_format(log_format: LogFormat) -> None:
    """Every handler of the gateway's loggers and of the server's, in `log_format` (`text`
    gives back the formats `json` replaced). Loggers without handlers of their own — a test's
    capture — are left alone."""
    for name in ("gateway", *SERVER_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            if log_format == "json" and not isinstance(handler.formatter, JsonFormatter):
                _replaced[handler] = handler.formatter
                handler.setFormatter(JsonFormatter())
            elif log_format == "text" and isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(_replaced.pop(handler, None) or TextFormatter())
