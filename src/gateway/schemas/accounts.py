"""A customer's account: registering, the balance, the profile, closing it, and the
customer's view of their limits."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gateway.db.accounts.users import UserRow
from gateway.schemas.common import Body, ConfirmationIn, Credits
from gateway.schemas.usage import TotalsOut, WindowOut
from gateway.services.keys.format import Environment


class RegisterIn(Body):
    email: str = Field(max_length=320)
    username: str | None = Field(default=None, max_length=40)
    environment_tag: Environment = "live"


class RegisteredOut(BaseModel):
    user_id: str
    username: str
    email: str
    api_key: str = Field(description="the full key, shown this once")
    key_id: str
    credits: Credits
    plan: str


class BalanceOut(BaseModel):
    user_id: str
    api_key: str = Field(description="the calling key, masked")
    credits: Credits = Field(description="what can be spent now")
    reserved: Credits = Field(description="what requests in flight hold")
    status: str


class ProfileIn(Body):
    email: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=40)


class ProfileOut(BaseModel):
    user_id: str
    email: str
    username: str
    status: str
    plan: str
    plan_expires_at: float | None
    created_at: float

    @classmethod
    def of(cls, user: UserRow) -> ProfileOut:
        return cls(
            user_id=user.id,
            email=user.email,
            username=user.username,
            status=user.status,
            plan=user.plan_id,
            plan_expires_at=user.plan_expires_at,
            created_at=user.created_at,
        )


class DeleteAccountIn(ConfirmationIn):
    pass  # its own name in /openapi.json


class AccountClosedOut(BaseModel):
    user_id: str
    status: str


class LimitsOut(BaseModel):
    plan_id: str
    max_concurrent_requests: int | None
    limits: list[WindowOut]


class MonitorOut(BaseModel):
    user_id: str
    credits: Credits
    reserved: Credits
    status: str
    plan_id: str
    last_24h: TotalsOut
    limits: list[WindowOut]
