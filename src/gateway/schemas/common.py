"""Shared building blocks: credits in and out, bounded counts, rate limits, the error body and
list pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from gateway.bounds import MAX_COUNT, MAX_CREDITS
from gateway.errors import InvalidRequest
from gateway.services.billing.money import PLAIN_DECIMAL, Nanos, parse_credits, plain_decimal, to_credits

T = TypeVar("T")

# --- answers -------------------------------------------------------------------------------

# Credits in an answer: an exact JSON number (written from its decimal text, never a float).
Credits = Annotated[
    Decimal,
    WithJsonSchema({"type": "number", "description": "credits (1 credit = 1 USD), exact, up to 9 decimals"}),
]


def credits(nanos: int) -> Decimal:
    """Nano-credits as the credits an answer shows: the one conversion for every route."""
    return to_credits(nanos)


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: str | None


class ErrorBody(BaseModel):
    """Every error, on every route, in the OpenAI shape (so SDKs raise the right exception)."""

    error: ErrorDetail


class ListOf(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool = False


def page_of(items: list[T], *, limit: int) -> ListOf[T]:
    """A page from `limit + 1` fetched items: `has_more` says whether another exists."""
    return ListOf[T](data=items[:limit], has_more=len(items) > limit)


# --- requests ------------------------------------------------------------------------------


class Body(BaseModel):
    """Request bodies refuse unknown fields: a typo in a money call must not pass silently."""

    model_config = ConfigDict(extra="forbid")


def _credits_in(value: object) -> Decimal:
    parse_credits(value)  # raises ValueError with the reason
    return plain_decimal(value)


_CREDITS_IN_SCHEMA = {
    "anyOf": [{"type": "number"}, {"type": "string"}],
    "description": f"credits: plain decimal text, up to 9 decimals, at most {MAX_CREDITS} either way",
}
CreditsIn = Annotated[Decimal, BeforeValidator(_credits_in), WithJsonSchema(_CREDITS_IN_SCHEMA)]
# The same input as the nano-credits it stands for, parsed once (by `money.parse_credits`).
NanoCreditsIn = Annotated[Nanos, BeforeValidator(parse_credits), WithJsonSchema(_CREDITS_IN_SCHEMA)]


def refuse_negative(name: str, nanos: int | None) -> None:
    """A credits field that must not be below zero (a limit, a price). Checked once the whole
    body has been read, so a body with other faults still names the first of those."""
    if nanos is not None and nanos < 0:
        raise InvalidRequest(f"'{name}' must not be negative", param=name)


def _whole_number(value: object) -> object:
    """Before pydantic's int: JSON true is not 1, and text is plain digits ('1_000' is not 1000)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not a boolean")
    if isinstance(value, str) and not PLAIN_DECIMAL.fullmatch(value.strip()):
        raise ValueError("must be a whole number in plain digits")
    return value


WholeNumber = BeforeValidator(_whole_number)
# A request or token limit, a request cap, a per-request or per-plan maximum.
Count = Annotated[int, WholeNumber, Field(ge=1, le=MAX_COUNT)]


class ConfirmationIn(Body):
    confirmation: str | None = None


def confirm(word: str, *, query: str | None, body: ConfirmationIn | None, to: str) -> None:
    """A destructive request goes ahead only with `word`, sent in the body or as `?confirmation=`."""
    if (query or (body.confirmation if body else None)) != word:
        raise InvalidRequest(f'send confirmation: "{word}" to {to}', param="confirmation")


# The rate-limit windows (`db.plans.plans.LIMIT_FIELDS`) a plan or an admin sets; null means
# unlimited. (A comment, not a docstring: /openapi.json would show a docstring.)
class LimitsIn(Body):
    requests_per_minute: Count | None = None
    requests_per_hour: Count | None = None
    requests_per_day: Count | None = None
    tokens_per_minute: Count | None = None
    tokens_per_hour: Count | None = None
    tokens_per_day: Count | None = None
