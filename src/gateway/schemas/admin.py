"""What admins send and see: credits, customers' balances, limits, the monitor, the audit check."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from gateway.db.accounts.users import UserBalanceRow
from gateway.schemas.common import Body, Credits, LimitsIn, NanoCreditsIn, credits
from gateway.schemas.usage import TotalsOut


class AddCreditsIn(Body):
    api_key: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=100)
    credits: NanoCreditsIn = Field(description="a top-up (positive) or an adjustment (negative)")
    reason: str = Field(min_length=1, max_length=500)
    reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="the same reference again changes nothing"
    )

    @model_validator(mode="after")
    def _one_target(self) -> AddCreditsIn:
        if (self.api_key is None) == (self.user_id is None):
            raise ValueError("give exactly one of 'api_key' or 'user_id'")
        return self


class BalanceChangedOut(BaseModel):
    user_id: str
    credits: Credits
    reserved: Credits


class CustomerBalanceOut(BaseModel):
    user_id: str
    email: str
    username: str
    status: str
    plan: str
    credits: Credits
    reserved: Credits
    api_keys: list[str] = Field(description="masked")

    @classmethod
    def of(cls, row: UserBalanceRow, masks: list[str]) -> CustomerBalanceOut:
        return cls(
            user_id=row.user.id,
            email=row.user.email,
            username=row.user.username,
            status=row.user.status,
            plan=row.user.plan_id,
            credits=credits(row.credits),
            reserved=credits(row.reserved),
            api_keys=masks,
        )


class SetLimitsIn(Body):
    api_key: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=100)
    key_id: str | None = Field(default=None, max_length=100)
    rate_limits: LimitsIn

    @model_validator(mode="after")
    def _one_target(self) -> SetLimitsIn:
        if sum(v is not None for v in (self.api_key, self.user_id, self.key_id)) != 1:
            raise ValueError("give exactly one of 'api_key', 'user_id' or 'key_id'")
        return self


class LimitsSetOut(BaseModel):
    user_id: str
    key_id: str | None
    rate_limits: dict[str, int | None]


class CatalogStatusOut(BaseModel):
    models: int
    unpriced_models: list[str]
    fetched_at: float | None
    age_seconds: float | None
    ttl_seconds: float
    stale: bool
    last_error: str | None
    last_attempt_at: float | None
    refreshes: int
    failures: int


class CachedKeys(BaseModel):
    cached: int


class CacheStatusOut(BaseModel):
    catalog: CatalogStatusOut
    api_keys: CachedKeys


class RefreshedOut(BaseModel):
    models: int
    unpriced_models: list[str]
    fetched_at: float


class UserTotalsOut(TotalsOut):
    user_id: str


class ModelTotalsOut(TotalsOut):
    model: str


class AdminMonitorOut(TotalsOut):
    since: float
    reserved: Credits = Field(description="what every request in flight holds")
    gateway_processes: int
    top_users: list[UserTotalsOut]
    top_models: list[ModelTotalsOut]
    outcomes: dict[str, int]
    errors: int
    catalog: CatalogStatusOut
    status: str
    redis: str


class BrokenLinkOut(BaseModel):
    user_id: str
    seq: int
    entry_id: int | None
    reason: str


class AuditVerifiedOut(BaseModel):
    valid: bool
    entries_checked: int
    first_broken_link: BrokenLinkOut | None
