"""Plans: the public catalogue, a customer's own plan, and admins' edits and assignments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from gateway.db.plans.plans import PlanRow
from gateway.errors import InvalidRequest
from gateway.schemas.common import (
    Body,
    Count,
    Credits,
    CreditsIn,
    LimitsIn,
    NanoCreditsIn,
    WholeNumber,
    credits,
    refuse_negative,
)
from gateway.schemas.usage import TotalsOut, WindowOut


class PlanOut(BaseModel):
    """A plan; a limit of null means unlimited."""

    id: str
    name: str
    price_per_month: Credits
    included_credits: Credits
    requests_per_minute: int | None
    requests_per_hour: int | None
    requests_per_day: int | None
    tokens_per_minute: int | None
    tokens_per_hour: int | None
    tokens_per_day: int | None
    max_tokens_per_request: int | None
    allowed_models: list[str]
    max_api_keys: int | None
    max_concurrent_requests: int | None
    features: dict[str, bool]
    markup: Credits | None = Field(description="replaces CREDIT_MARKUP for this plan's customers")
    stripe_price_id: str | None

    @staticmethod
    def values(plan: PlanRow) -> dict[str, Any]:
        return {
            "id": plan.id,
            "name": plan.name,
            "price_per_month": credits(plan.price_per_month),
            "included_credits": credits(plan.included_credits),
            **plan.limits,
            "max_tokens_per_request": plan.max_tokens_per_request,
            "allowed_models": list(plan.allowed_models),
            "max_api_keys": plan.max_api_keys,
            "max_concurrent_requests": plan.max_concurrent_requests,
            "features": plan.features,
            "markup": plan.markup,
            "stripe_price_id": plan.stripe_price_id,
        }

    @classmethod
    def of(cls, plan: PlanRow) -> PlanOut:
        return cls(**cls.values(plan))


class UserPlanOut(PlanOut):
    started_at: float | None
    expires_at: float | None = Field(description="when the paid period ends (then: the free plan)")


class KeysUsed(BaseModel):
    used: int
    max: int | None


class PlanUsageOut(TotalsOut):
    plan_id: str
    period_start: float
    included_credits: Credits
    api_keys: KeysUsed
    limits: list[WindowOut]


class FeatureOut(BaseModel):
    plan_id: str
    feature: str
    enabled: bool


class EntitlementsOut(BaseModel):
    plan_id: str
    features: dict[str, bool]
    allowed_models: list[str]
    max_tokens_per_request: int | None
    max_api_keys: int | None
    max_concurrent_requests: int | None


class _NameAndPrices(Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price_per_month: NanoCreditsIn | None = None
    stripe_price_id: str | None = Field(default=None, max_length=200)
    included_credits: NanoCreditsIn | None = None


# Fields in the order clients have always seen (/docs, and which of several bad fields an
# error names): name and prices, the rate limits, the rest. Pydantic puts inherited fields
# first, the furthest base's first.
class PlanChanges(LimitsIn, _NameAndPrices):
    max_tokens_per_request: Count | None = None
    allowed_models: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=200
    )
    max_api_keys: Count | None = None
    max_concurrent_requests: Count | None = None
    features: dict[str, bool] | None = None
    markup: CreditsIn | None = None

    def given(self) -> dict[str, Any]:
        """The fields sent, as stored (credits in nano-credits); null means unlimited / none."""
        changes: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        changes.pop("id", None)
        for money in ("price_per_month", "included_credits"):
            if money in changes:
                changes[money] = changes[money] or 0  # null: free, or nothing included
                refuse_negative(money, changes[money])
        if "allowed_models" in changes:
            changes["allowed_models"] = tuple(changes["allowed_models"] or ("*",))
        if "features" in changes:
            changes["features"] = dict(changes["features"] or {})
        if changes.get("markup") is not None and changes["markup"] <= 0:
            raise InvalidRequest("'markup' must be greater than 0", param="markup")
        return changes


class NewPlanIn(PlanChanges):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)  # required here


class AssignPlanIn(Body):
    user_id: str = Field(max_length=100)
    plan_id: str = Field(max_length=64)
    duration_months: Annotated[int, WholeNumber, Field(ge=1, le=120)] = 1


class AssignedOut(BaseModel):
    user_id: str
    plan_id: str
    started_at: float
    expires_at: float | None
