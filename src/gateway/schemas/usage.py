"""What customers and admins are shown of usage: totals, requests, the ledger, limits."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.db.audit.log import AuditRow
from gateway.db.billing.usage import UsageRow
from gateway.db.reports.usage import Totals
from gateway.schemas.common import Credits, credits
from gateway.services.billing.balances import LedgerRow


class TotalsOut(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    credits_spent: Credits
    last_request_at: float | None

    @staticmethod
    def values(totals: Totals) -> dict[str, Any]:
        """The fields, for answers that show totals next to their own."""
        return {
            "requests": totals.requests,
            "prompt_tokens": totals.prompt_tokens,
            "completion_tokens": totals.completion_tokens,
            "total_tokens": totals.prompt_tokens + totals.completion_tokens,
            "credits_spent": credits(totals.cost),
            "last_request_at": totals.last_at,
        }

    @classmethod
    def of(cls, totals: Totals) -> TotalsOut:
        return cls(**cls.values(totals))


class UsageEntryOut(BaseModel):
    id: str
    request_id: str
    key_id: str | None
    environment: str
    model: str
    stream: bool
    outcome: str
    prompt_tokens: int
    completion_tokens: int
    usage_source: str
    cost: Credits
    written_off: Credits
    duration_ms: int
    created_at: float

    @classmethod
    def of(cls, row: UsageRow) -> UsageEntryOut:
        return cls(
            id=row.id,
            request_id=row.request_id,
            key_id=row.key_id,
            environment=row.environment,
            model=row.model,
            stream=row.stream,
            outcome=row.outcome,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            usage_source=row.usage_source,
            cost=credits(row.cost),
            written_off=credits(row.written_off),
            duration_ms=row.duration_ms,
            created_at=row.created_at,
        )


class LedgerEntryOut(BaseModel):
    id: int
    kind: str
    amount: Credits
    credits_after: Credits
    reserved_after: Credits
    key_id: str | None
    description: str | None
    created_at: float
    shortfall: Credits = Field(description="what a refund or dispute could not take back (the balance was short)")

    @classmethod
    def of(cls, row: LedgerRow) -> LedgerEntryOut:
        return cls(
            id=row.id,
            kind=row.kind,
            amount=credits(row.amount),
            credits_after=credits(row.credits_after),
            reserved_after=credits(row.reserved_after),
            key_id=row.key_id,
            description=row.description,
            created_at=row.created_at,
            shortfall=credits(row.shortfall),
        )


class AuditEntryOut(BaseModel):
    id: int
    seq: int
    action: str
    key_id: str | None
    actor: str
    details: dict[str, Any]
    created_at: float

    @classmethod
    def of(cls, row: AuditRow) -> AuditEntryOut:
        return cls(
            id=row.id,
            seq=row.seq,
            action=row.action,
            key_id=row.key_id,
            actor=row.actor,
            details=json.loads(row.details),
            created_at=row.created_at,
        )


class WindowOut(BaseModel):
    """One rate-limit window: its limit, what is used, and when it resets."""

    scope: Literal["user", "key"]
    dimension: Literal["requests", "tokens"]
    window_seconds: int
    limit: int
    used: int
    remaining: int
    reset: str
    reset_seconds: float


class EnvironmentUsageOut(TotalsOut):
    environment_tag: str
