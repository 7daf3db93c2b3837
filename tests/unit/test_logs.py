"""Log lines: `text` for people, `json` for shippers, the same fields in both."""

from __future__ import annotations

import json
import logging
import sys

from gateway.logs import JsonFormatter, TextFormatter, use_format

FIELDS = {"request_id": "req_1", "method": "GET", "route": "/user/balance", "status": 200, "user_id": None}


def record(**extra: object) -> logging.LogRecord:
    found = logging.LogRecord("gateway.access", logging.INFO, __file__, 1, "%s %s %d", ("GET", "/x", 200), None)
    found.__dict__.update(extra)
    return found


def test_json_lines_carry_the_fields_as_keys() -> None:
    line = JsonFormatter().format(record(fields=FIELDS))
    document = json.loads(line)
    assert "\n" not in line
    assert document["message"] == "GET /x 200" and document["logger"] == "gateway.access"
    assert document["level"] == "INFO" and document["time"].endswith("Z")
    assert {k: document[k] for k in FIELDS} == FIELDS


def test_json_lines_hold_a_traceback_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("gateway", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter().format(failed)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_text_lines_show_known_fields_not_said_before() -> None:
    line = TextFormatter().format(record(fields=FIELDS, in_message=("method", "route", "status")))
    assert line.endswith("INFO gateway.access: GET /x 200 request_id=req_1")


def test_the_format_switches_every_handler_and_back() -> None:
    logger = logging.getLogger("gateway")
    handler = logging.StreamHandler()
    original = logging.Formatter("%(message)s")
    handler.setFormatter(original)
    logger.addHandler(handler)
    try:
        use_format("json")
        assert isinstance(handler.formatter, JsonFormatter)
        use_format("text")
        assert handler.formatter is original
    finally:
        logger.removeHandler(handler)
