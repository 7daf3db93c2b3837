"""Buying credits and plans, the billing portal, auto top-up, and operators' payment history."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from gateway.db.payments.events import EventRow
from gateway.schemas.common import Body, Credits, NanoCreditsIn, credits
from gateway.services.billing.money import plain_decimal
from gateway.services.payments.auto_topup import Settings
from gateway.services.payments.config import MAX_USD, MIN_USD, usd

# US dollars: a JSON number or a string of plain decimal text (bounds checked with the cents).
UsdIn = Annotated[
    Decimal,
    BeforeValidator(plain_decimal),
    WithJsonSchema({
        "anyOf": [{"type": "number"}, {"type": "string"}],
        "description": f"US dollars, {MIN_USD} to {MAX_USD}, whole cents",
    }),
]  # fmt: skip
Usd = Annotated[Decimal, WithJsonSchema({"type": "number", "description": "US dollars, exact"})]


class CheckoutIn(Body):
    """`{kind: "credits", amount_usd, save_card?}` or `{kind: "plan", plan_id}`."""

    kind: Literal["credits", "plan"]
    amount_usd: UsdIn | None = None
    save_card: bool = Field(default=False, description="keep the card for auto top-up")
    plan_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _what_is_bought(self) -> CheckoutIn:
        if self.kind == "credits" and (self.amount_usd is None or self.plan_id is not None):
            raise ValueError("buying credits takes 'amount_usd' (and no 'plan_id')")
        if self.kind == "plan" and (self.plan_id is None or self.amount_usd is not None or self.save_card):
            raise ValueError("buying a plan takes 'plan_id' (and no 'amount_usd' or 'save_card')")
        return self


class CheckoutOut(BaseModel):
    checkout_url: str = Field(description="send the customer here to pay")
    session_id: str


class PortalOut(BaseModel):
    url: str


class AutoTopUpIn(Body):
    enabled: bool
    threshold: NanoCreditsIn | None = Field(default=None, description="top up when credits fall below this")
    amount_usd: UsdIn | None = Field(default=None, description="how much to buy each time")


class AutoTopUpOut(BaseModel):
    enabled: bool
    threshold: Credits
    amount_usd: Usd | None
    card_saved: bool
    disabled_reason: str | None = Field(description="why it was turned off (a declined card)")
    payment_in_flight: bool
    last_outcome: str | None

    @classmethod
    def of(cls, found: Settings) -> AutoTopUpOut:
        return cls(
            enabled=found.enabled,
            threshold=credits(found.threshold),
            amount_usd=usd(found.amount_cents) if found.amount_cents else None,
            card_saved=found.card_saved,
            disabled_reason=found.disabled_reason,
            payment_in_flight=found.in_flight,
            last_outcome=found.last_outcome,
        )


class WebhookOut(BaseModel):
    received: bool = True
    outcome: Literal["applied", "ignored", "deferred", "duplicate"]


class PaymentEventOut(BaseModel):
    """A webhook event and what it did: credits granted (+) or taken back (-), and what a
    refund or dispute could not take back from the balance (`shortfall`)."""

    id: str
    type: str
    user_id: str | None
    amount: Credits
    shortfall: Credits
    outcome: str
    detail: str | None
    created_at: float = Field(description="when Stripe made the event")
    received_at: float

    @classmethod
    def of(cls, row: EventRow) -> PaymentEventOut:
        return cls(
            id=row.id, type=row.type, user_id=row.user_id, amount=credits(row.amount),
            shortfall=credits(row.shortfall), outcome=row.outcome, detail=row.detail, created_at=row.created_at,
            received_at=row.received_at,
        )  # fmt: skip
