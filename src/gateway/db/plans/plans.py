"""Plans: tiers of limits, entitlements and prices."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.db.database import Row, Tx

# The plan every account starts on and falls back to (seeded by migration 0001).
FREE_PLAN = "free"
LIMIT_FIELDS = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "tokens_per_minute",
    "tokens_per_hour",
    "tokens_per_day",
)


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: str
    name: str
    price_per_month: int
    stripe_price_id: str | None
    included_credits: int
    limits: dict[str, int | None]  # LIMIT_FIELDS → value; None = unlimited
    max_tokens_per_request: int | None
    allowed_models: tuple[str, ...]
    max_api_keys: int | None
    max_concurrent_requests: int | None
    features: dict[str, bool] = field(default_factory=dict)
    markup: Decimal | None = None


_COLUMNS = (
    "id, name, price_per_month, stripe_price_id, included_credits, "
    + ", ".join(LIMIT_FIELDS)
    + ", max_tokens_per_request, allowed_models, max_api_keys, max_concurrent_requests, features, markup"
)


def _plan(row: Row) -> PlanRow:
    markup = row["markup"]
    return PlanRow(
        id=row["id"],
        name=row["name"],
        price_per_month=row["price_per_month"],
        stripe_price_id=row["stripe_price_id"],
        included_credits=row["included_credits"],
        limits={name: row[name] for name in LIMIT_FIELDS},
        max_tokens_per_request=row["max_tokens_per_request"],
        allowed_models=tuple(json.loads(row["allowed_models"])),
        max_api_keys=row["max_api_keys"],
        max_concurrent_requests=row["max_concurrent_requests"],
        features=dict(json.loads(row["features"])),
        markup=None if markup is None else Decimal(str(markup)),
    )


def _values(plan: PlanRow) -> list[Any]:
    return [
        plan.id,
        plan.name,
        plan.price_per_month,
        plan.stripe_price_id,
        plan.included_credits,
        *(plan.limits.get(name) for name in LIMIT_FIELDS),
        plan.max_tokens_per_request,
        json.dumps(list(plan.allowed_models)),
        plan.max_api_keys,
        plan.max_concurrent_requests,
        json.dumps(plan.features, sort_keys=True),
        None if plan.markup is None else str(plan.markup),
    ]


async def all_plans(tx: Tx) -> Sequence[PlanRow]:
    return [_plan(r) for r in await tx.fetchall(f"SELECT {_COLUMNS} FROM plans ORDER BY price_per_month, id")]


async def get(tx: Tx, plan_id: str) -> PlanRow | None:
    row = await tx.fetchrow(f"SELECT {_COLUMNS} FROM plans WHERE id = $1", plan_id)
    return None if row is None else _plan(row)


async def insert(tx: Tx, plan: PlanRow, *, now: float) -> bool:
    """False if a plan with this id already exists."""
    values = [*_values(plan), now]
    placeholders = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    inserted = await tx.fetchval(
        f"INSERT INTO plans ({_COLUMNS}, created_at) VALUES ({placeholders}) ON CONFLICT (id) DO NOTHING RETURNING id",
        *values,
    )
    return inserted is not None


async def update(tx: Tx, plan: PlanRow) -> None:
    names = _COLUMNS.split(", ")[1:]
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=2))
    await tx.execute(f"UPDATE plans SET {assignments} WHERE id = $1", *_values(plan))


async def by_price(tx: Tx, stripe_price_id: str) -> PlanRow | None:
    """The plan a Stripe price sells, if any."""
    row = await tx.fetchrow(f"SELECT {_COLUMNS} FROM plans WHERE stripe_price_id = $1", stripe_price_id)
    return None if row is None else _plan(row)


async def owner_of_price(tx: Tx, stripe_price_id: str) -> str | None:
    """The plan that sells itself at this Stripe price, if any."""
    found: str | None = await tx.fetchval("SELECT id FROM plans WHERE stripe_price_id = $1", stripe_price_id)
    return found
