"""Usage records as CSV (RFC 4180, stdlib `csv`): one format for every export, safe to open in
a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import UTC, datetime

from gateway.db.reports.usage import UsageEntry
from gateway.services.billing.money import credits_text

USAGE_COLUMNS = (
    "time",
    "request_id",
    "key_id",
    "key_name",
    "key_mask",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost_credits",
    "latency_ms",
    "outcome",
)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list: tab and
# carriage return too); key names are the customer's text, so every text cell is guarded.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    """Text safe for a spreadsheet: a leading formula character is quoted away with `'`."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def iso_utc(timestamp: float) -> str:
    """`2025-01-31T23:59:59.250Z`: ISO 8601, UTC, milliseconds."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usage_cells(entry: UsageEntry) -> list[str | int]:
    """One record's cells, in `USAGE_COLUMNS` order. Numbers are written by us (never text a
    customer chose), so only text cells are guarded; cost is exact decimal credits."""
    row = entry.usage
    return [
        iso_utc(row.created_at),
        text_cell(row.request_id),
        text_cell(row.key_id),
        text_cell(entry.key_name),
        text_cell(entry.key_mask),
        text_cell(row.model),
        row.prompt_tokens,
        row.completion_tokens,
        credits_text(row.cost),
        row.duration_ms,
        text_cell(row.outcome),
    ]


def usage_csv_text(entries: Iterable[UsageEntry], *, header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(USAGE_COLUMNS)
    writer.writerows(usage_cells(entry) for entry in entries)
    return out.getvalue()


async def usage_csv(chunks: AsyncIterable[Iterable[UsageEntry]]) -> AsyncIterator[str]:
    """The header, then the CSV text of each chunk as it arrives (for a streamed download)."""
    yield usage_csv_text((), header=True)
    async for chunk in chunks:
        yield usage_csv_text(chunk)
