"""Spend over time from usage records: rolling windows and per-model day buckets (reads only)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.db.database import Tx
from gateway.db.reports.usage import Totals

DAY = 86_400
_WINDOWS = ("today", "week", "month")
_SUMMED = ("prompt_tokens", "completion_tokens", "cost")


@dataclass(frozen=True, slots=True)
class SpendWindows:
    today: Totals  # since UTC midnight
    last_7_days: Totals
    last_30_days: Totals


def _window_columns() -> str:
    # Window i counts rows at or after parameter $(i + 2); the oldest bound is also the WHERE's.
    columns = []
    for i, name in enumerate(_WINDOWS):
        since = f"created_at >= ${i + 2}"
        columns.append(f"COUNT(CASE WHEN {since} THEN 1 END) AS {name}_requests")
        columns.extend(f"COALESCE(SUM(CASE WHEN {since} THEN {c} END), 0) AS {name}_{c}" for c in _SUMMED)
    return ", ".join(columns)


_WINDOWS_SQL = f"SELECT {_window_columns()} FROM usage_records WHERE user_id = $1 AND created_at >= $4"


async def windows(tx: Tx, *, user_id: str, today: float, week: float, month: float) -> SpendWindows:
    """Totals since each of three bounds (`today` ≥ `week` ≥ `month`), in one pass over the
    user's rows since `month`."""
    if not today >= week >= month:
        raise ValueError("the windows must nest: today >= week >= month")
    row = await tx.fetchrow(_WINDOWS_SQL, user_id, float(today), float(week), float(month))
    if row is None:  # never: an aggregate without GROUP BY answers one row
        return SpendWindows(Totals(0, 0, 0, 0), Totals(0, 0, 0, 0), Totals(0, 0, 0, 0))
    totals = [Totals(*(int(row[f"{name}_{c}"]) for c in ("requests", *_SUMMED))) for name in _WINDOWS]
    return SpendWindows(*totals)


@dataclass(frozen=True, slots=True)
class DayCost:
    model: str
    day: int  # days since `start`: 0 is [start, start + 1 day)
    cost: int
    requests: int


# The day's number, floored the same way on both dialects: CAST truncates on SQLite but rounds
# on PostgreSQL, so a rounded-up value is taken back down by one.
_DAY_NUMBER = "CAST(d AS BIGINT) - CASE WHEN CAST(d AS BIGINT) > d THEN 1 ELSE 0 END"
_DAILY_SQL = (
    "SELECT model, day, SUM(cost) AS cost, COUNT(*) AS requests FROM ("
    f" SELECT model, cost, {_DAY_NUMBER} AS day FROM ("
    "  SELECT model, cost, (created_at - $2) / 86400.0 AS d FROM usage_records"
    "  WHERE user_id = $1 AND created_at >= $2 AND created_at < $3"
    " ) AS stamped"
    ") AS bucketed GROUP BY model, day"
)


async def daily_by_model(tx: Tx, *, user_id: str, start: float, days: int) -> list[DayCost]:
    """Cost and requests per (model, day) of the user's rows in [start, start + `days` days)."""
    rows = await tx.fetchall(_DAILY_SQL, user_id, float(start), float(start + days * DAY))
    return [DayCost(r["model"], int(r["day"]), int(r["cost"]), int(r["requests"])) for r in rows]
