"""The usage CSV: exact decimal credits, UTC times, and no formula a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest

from gateway.db.billing.usage import UsageRow
from gateway.db.reports.usage import UsageEntry
from gateway.services.reports.export import USAGE_COLUMNS, iso_utc, text_cell, usage_csv, usage_csv_text


def entry(cost: int = 0, *, key_name: str | None = "ci", model: str = "m/a", at: float = 0.0) -> UsageEntry:
    row = UsageRow(
        id="call_1",
        request_id="req_1",
        user_id="usr_1",
        key_id="key_1",
        environment="live",
        model=model,
        stream=True,
        outcome="completed",
        prompt_tokens=12,
        completion_tokens=34,
        usage_source="upstream",
        reserved=cost,
        cost=cost,
        written_off=0,
        duration_ms=250,
        created_at=at,
    )
    return UsageEntry(row, key_name, None if key_name is None else "sk-live-…abcd")


def parsed(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ci=1", "ci=1"),
        ("'=1", "'=1"),
        ("", ""),
        (None, ""),
    ],
)
def test_text_cells_that_would_be_formulas_are_quoted(name: str | None, cell: str) -> None:
    assert text_cell(name) == cell
    written = parsed(usage_csv_text([entry(key_name=name)], header=True))
    assert written[0]["key_name"] == cell


@pytest.mark.parametrize(
    ("nanos", "credits"),
    [
        (0, "0"),
        (1, "0.000000001"),
        (52_000, "0.000052"),
        (10**9, "1"),
        (12_500_000_000, "12.5"),
        (10**18, "1000000000"),
    ],
)
def test_cost_is_exact_decimal_credits(nanos: int, credits: str) -> None:
    assert parsed(usage_csv_text([entry(nanos)], header=True))[0]["cost_credits"] == credits


def test_a_row_has_every_column_in_order() -> None:
    text = usage_csv_text([entry(5, key_name='a "quoted", name', at=1_741_607_999.25)], header=True)
    assert text.splitlines()[0] == ",".join(USAGE_COLUMNS)
    assert parsed(text) == [
        {
            "time": "2025-03-10T11:59:59.250Z",
            "request_id": "req_1",
            "key_id": "key_1",
            "key_name": 'a "quoted", name',
            "key_mask": "sk-live-…abcd",
            "model": "m/a",
            "prompt_tokens": "12",
            "completion_tokens": "34",
            "cost_credits": "0.000000005",
            "latency_ms": "250",
            "outcome": "completed",
        }
    ]
    assert text.endswith("\r\n")


def test_times_are_utc_with_milliseconds() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(1_741_564_800.0) == "2025-03-10T00:00:00.000Z"


async def test_the_stream_is_a_header_then_each_chunk() -> None:
    async def chunks() -> AsyncIterator[list[UsageEntry]]:
        yield [entry(1), entry(2)]
        yield [entry(3)]

    parts = [part async for part in usage_csv(chunks())]
    assert parts[0] == ",".join(USAGE_COLUMNS) + "\r\n"
    assert len(parts) == 3
    assert [row["cost_credits"] for row in parsed("".join(parts))] == ["0.000000001", "0.000000002", "0.000000003"]


async def test_an_empty_export_is_the_header_alone() -> None:
    async def nothing() -> AsyncIterator[list[UsageEntry]]:
        return
        yield

    assert [part async for part in usage_csv(nothing())] == [",".join(USAGE_COLUMNS) + "\r\n"]
