"""A customer's API keys: creating, changing, rotating and deleting them, and their usage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from gateway.db.keys.api_keys import KeyRow
from gateway.schemas.common import (
    Body,
    ConfirmationIn,
    Count,
    Credits,
    NanoCreditsIn,
    WholeNumber,
    credits,
    refuse_negative,
)
from gateway.schemas.usage import TotalsOut
from gateway.services.keys.allowlist import MAX_ENTRIES
from gateway.services.keys.format import Environment
from gateway.services.keys.manage import KeyChanges
from gateway.services.reports.usage import KeyUsage


class KeySettings(Body):
    expiration_days: Annotated[int, WholeNumber, Field(ge=1, le=3650)] | None = None
    max_requests: Count | None = None
    spend_limit: NanoCreditsIn | None = None
    ip_allowlist: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=MAX_ENTRIES)
    domain_referrers: list[Annotated[str, Field(max_length=253)]] | None = Field(default=None, max_length=MAX_ENTRIES)
    allowed_models: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    rate_limits: dict[str, Count | None] | None = None

    def changes(self) -> KeyChanges:
        """Only the fields the client sent: an omitted field keeps its value, null clears it."""
        given: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        refuse_negative("spend_limit", given.get("spend_limit"))
        if "key_name" in given:
            given["name"] = given.pop("key_name")
        given.pop("action", None)
        given.pop("environment_tag", None)
        return KeyChanges(**given)


class NewKeyIn(KeySettings):
    key_name: str = Field(min_length=1, max_length=100)
    environment_tag: Environment = "live"


class KeyUpdateIn(KeySettings):
    action: Literal["update", "rotate", "bulk_rotate"]
    key_name: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool | None = None
    environment_tag: Environment | None = None  # bulk_rotate: only keys of this environment


class DeleteKeyIn(ConfirmationIn):
    pass  # its own name in /openapi.json


class KeyOut(BaseModel):
    """A key as its owner sees it: masked (`gw_live_abcd…wxyz`), with its settings."""

    id: str
    key_name: str
    api_key: str = Field(description="masked")
    environment_tag: str
    active: bool
    expires_at: float | None
    created_at: float
    rotated_at: float | None
    max_requests: int | None
    spend_limit: Credits | None
    ip_allowlist: list[str]
    domain_referrers: list[str]
    allowed_models: list[str]
    rate_limits: dict[str, int | None]

    @staticmethod
    def values(key: KeyRow) -> dict[str, Any]:
        policy = key.policy
        return {
            "id": key.id,
            "key_name": key.name,
            "api_key": key.mask,
            "environment_tag": key.environment,
            "active": key.active,
            "expires_at": policy.expires_at,
            "created_at": key.created_at,
            "rotated_at": key.rotated_at,
            "max_requests": policy.max_requests,
            "spend_limit": None if policy.spend_limit is None else credits(policy.spend_limit),
            "ip_allowlist": list(policy.ip_allowlist),
            "domain_referrers": list(policy.domain_referrers),
            "allowed_models": list(policy.allowed_models),
            "rate_limits": policy.rate_limits,
        }

    @classmethod
    def of(cls, key: KeyRow) -> KeyOut:
        return cls(**cls.values(key))


class NewKeyOut(KeyOut):
    """A key with its full secret, shown this once (at creation or rotation)."""

    api_key: str = Field(description="the full key, shown this once")

    @classmethod
    def with_secret(cls, key: KeyRow, secret: str) -> NewKeyOut:
        return cls(**{**cls.values(key), "api_key": secret})


class KeyDeletedOut(BaseModel):
    id: str
    deleted: bool


class KeyUsageOut(TotalsOut):
    id: str
    key_name: str
    environment_tag: str
    spend_limit: Credits | None
    spend_remaining: Credits | None
    max_requests: int | None
    requests_remaining: int | None

    @classmethod
    def from_usage(cls, found: KeyUsage) -> KeyUsageOut:
        key, budget = found.key, found.budget
        return cls(
            id=key.id,
            key_name=key.name,
            environment_tag=key.environment,
            **TotalsOut.values(found.totals),
            spend_limit=None if budget.spend_limit is None else credits(budget.spend_limit),
            spend_remaining=None if budget.spend_remaining is None else credits(budget.spend_remaining),
            max_requests=budget.max_requests,
            requests_remaining=budget.requests_remaining,
        )
