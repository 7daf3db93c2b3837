"""A customer's spend over time: today and rolling windows, and cost per model per UTC day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from gateway.db.database import Database
from gateway.db.reports import spend
from gateway.db.reports.spend import DAY, SpendWindows

EPOCH = date(1970, 1, 1)


def utc_midnight(now: float) -> float:
    """The start of `now`'s UTC day (Unix time has no leap seconds: days are 86,400 s)."""
    return float(now - now % DAY)


async def spend_windows(db: Database, *, user_id: str, now: float) -> SpendWindows:
    """Since UTC midnight, and over the 7 and 30 days up to `now` (rolling)."""
    async with db.read() as tx:
        return await spend.windows(
            tx, user_id=user_id, today=utc_midnight(now), week=now - 7 * DAY, month=now - 30 * DAY
        )


@dataclass(frozen=True, slots=True)
class ModelSeries:
    model: str | None  # None: the models beyond the largest few, folded together ("other")
    costs: tuple[int, ...]  # nano-credits per day, in the order of `DailySpend.days`
    total: int


@dataclass(frozen=True, slots=True)
class DailySpend:
    days: tuple[date, ...]  # UTC days, oldest first, every one (today last)
    series: tuple[ModelSeries, ...]  # largest total first; "other" (model None) last


async def daily_spend_by_model(db: Database, *, user_id: str, now: float, days: int = 30, top: int = 6) -> DailySpend:
    """Cost per model per UTC day over the `days` days ending today: the `top` models by total
    cost have a series each, the rest one "other" series; models that cost nothing are left out."""
    if days < 1 or top < 0:
        raise ValueError("days must be at least 1 and top not negative")
    start = utc_midnight(now) - (days - 1) * DAY
    async with db.read() as tx:
        buckets = await spend.daily_by_model(tx, user_id=user_id, start=start, days=days)
    per_model: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    for bucket in buckets:
        if 0 <= bucket.day < days:  # always, as the query bounds the rows; a guard on indexing
            per_model[bucket.model][bucket.day] += bucket.cost
    ranked = sorted(((sum(c), model, c) for model, c in per_model.items() if sum(c) > 0), key=_largest_first)
    series = [ModelSeries(model, tuple(costs), total) for total, model, costs in ranked[:top]]
    if rest := ranked[top:]:
        other = tuple(sum(day) for day in zip(*(costs for _, _, costs in rest), strict=True))
        series.append(ModelSeries(None, other, sum(total for total, _, _ in rest)))
    first = EPOCH + timedelta(days=int(start // DAY))
    return DailySpend(tuple(first + timedelta(days=i) for i in range(days)), tuple(series))


def _largest_first(entry: tuple[int, str, list[int]]) -> tuple[int, str]:
    return -entry[0], entry[1]
