"""A Stripe event as the handlers see it, and what applying it did (stored with the event)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway.db.database import Tx
from gateway.db.payments import customers
from gateway.services.payments.config import Payments


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    created: float
    object: dict[str, Any]  # data.object


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a handler needed from Stripe's API before the transaction (none inside it)."""

    payment_method: str | None = None


# "ignored": a type not handled, or nothing to do; "deferred": waits for its payment's credits.
Outcome = Literal["applied", "ignored", "deferred"]


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome = "applied"
    user_id: str | None = None
    amount: int = 0  # nano-credits granted (+) or taken back (-)
    shortfall: int = 0  # what could not be taken back
    detail: str | None = None
    plan_changed: bool = False  # the user's cached keys carry their plan: forget them
    auto_topup_changed: bool = False  # turned on or off: every process reloads the thresholds


def ignored(detail: str, user_id: str | None = None) -> Applied:
    return Applied(outcome="ignored", user_id=user_id, detail=detail)


@dataclass(frozen=True, slots=True)
class Context:
    """What handlers use besides their transaction (which is all they may read or write)."""

    payments: Payments
    now: float


def field(document: Any, *path: str) -> Any:
    """`document[a][b]...`, or None where any step is missing or not an object."""
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def text(document: Any, *path: str) -> str | None:
    found = field(document, *path)
    if isinstance(found, dict):
        found = found.get("id")  # an expanded object stands where its id may
    return found if isinstance(found, str) and found else None


def whole(document: Any, *path: str) -> int | None:
    found = field(document, *path)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


async def user_of_customer(tx: Tx, document: dict[str, Any]) -> str | None:
    """The user whose Stripe customer the document names (the gateway made it for them)."""
    customer = text(document, "customer")
    return None if customer is None else await customers.user_of(tx, customer)
