"""The Keys pages' forms and rows: posted fields turned into the API's own bodies (NewKeyIn,
KeyUpdateIn, validated there), a key's settings turned back into form values, and each key
with its usage and status for the list.

Edit forms are pre-filled with the key's current settings, and what is posted is the new
setting: an emptied limit or list means "no limit" (null or empty), never "leave as is".
Expiry is the exception: a key stores a date, the form asks for days from now, so an empty
expiry field keeps the current date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.routes.console.web import form_list
from gateway.services.billing.key_budget import KeyBudget
from gateway.services.billing.money import credits_text
from gateway.services.plans.book import LIMIT_FIELDS
from gateway.services.reports.usage import KeyRow, KeyUsage, Totals

RATE_PREFIX = "rl_"  # a rate-limit window's form field: rl_requests_per_minute
LISTS = ("ip_allowlist", "domain_referrers", "allowed_models")
# Each rate-limit window a key may set (the schema accepts LIMIT_FIELDS) with its label, and
# the same as (form field, label).
WINDOWS = [(name, name.replace("_", " ").capitalize()) for name in LIMIT_FIELDS]
RATE_FIELDS = [(RATE_PREFIX + name, label) for name, label in WINDOWS]


@dataclass(frozen=True, slots=True)
class KeyLine:
    """A key as the list and its page show it."""

    key: KeyRow
    totals: Totals
    budget: KeyBudget
    status: str  # active, expired or revoked (switched off; deleted keys are not listed)

    @property
    def rate_limits(self) -> list[tuple[str, int]]:
        return own_rate_limits(self.key)


def own_rate_limits(key: KeyRow) -> list[tuple[str, int]]:
    """The key's own windows that limit anything (on top of the plan's), as (label, limit)."""
    limits = key.policy.rate_limits
    return [(label, value) for name, label in WINDOWS if (value := limits.get(name)) is not None]


def status_of(key: KeyRow, *, now: float) -> str:
    if not key.active:
        return "revoked"
    expires_at = key.policy.expires_at
    return "expired" if expires_at is not None and expires_at <= now else "active"


def lines(keys: Iterable[KeyRow], usage: Sequence[KeyUsage], *, now: float) -> list[KeyLine]:
    """The keys in their order, each with its usage (a key made since usage was read has none)."""
    found = {u.key.id: u for u in usage}
    shown = []
    for key in keys:
        used = found.get(key.id)
        totals = used.totals if used else Totals(0, 0, 0, 0)
        policy = key.policy
        budget = used.budget if used else KeyBudget(policy.spend_limit, 0, key.held, policy.max_requests, 0)
        shown.append(KeyLine(key, totals, budget, status_of(key, now=now)))
    return shown


def _rate_limits(fields: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, _ in WINDOWS if (value := fields.get(RATE_PREFIX + name, "").strip())}


def new_key_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """NewKeyIn's fields from the create form: what is left empty is not set."""
    body: dict[str, Any] = {"key_name": fields.get("key_name", "").strip()}
    for name in ("environment_tag", "expiration_days", "spend_limit", "max_requests"):
        if value := fields.get(name, "").strip():
            body[name] = value
    for name in LISTS:
        if items := form_list(fields.get(name)):
            body[name] = items
    if limits := _rate_limits(fields):
        body["rate_limits"] = limits
    return body


def update_body(fields: Mapping[str, str]) -> dict[str, Any]:
    """KeyUpdateIn's fields from the edit form: every field is the key's new setting (empty
    = no limit, no restriction), except an empty expiry, which keeps the current one."""
    body: dict[str, Any] = {
        "action": "update",
        "key_name": fields.get("key_name", "").strip(),
        "active": "active" in fields,  # an unticked checkbox is not posted at all
        "rate_limits": _rate_limits(fields),
    }
    for name in ("spend_limit", "max_requests"):
        body[name] = fields.get(name, "").strip() or None
    for name in LISTS:
        body[name] = form_list(fields.get(name))
    if "no_expiry" in fields:
        body["expiration_days"] = None
    elif days := fields.get("expiration_days", "").strip():
        body["expiration_days"] = days
    return body


def form_of(key: KeyRow) -> dict[str, str]:
    """The edit form's values: the key's current settings, as they would be typed."""
    policy = key.policy
    form = {
        "key_name": key.name,
        "spend_limit": "" if policy.spend_limit is None else credits_text(policy.spend_limit),
        "max_requests": "" if policy.max_requests is None else str(policy.max_requests),
        **{name: "\n".join(getattr(policy, name)) for name in LISTS},
        **{RATE_PREFIX + name: str(policy.rate_limits.get(name) or "") for name, _ in WINDOWS},
    }
    if key.active:
        form["active"] = "on"
    return form
