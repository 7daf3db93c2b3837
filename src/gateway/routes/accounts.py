"""Registration: anyone may open an account; the throttle is per client IP."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from gateway.deps import ClientAddress, RuntimeDep
from gateway.responses import credits, ok
from gateway.routes.base import Body, GatewayRoute
from gateway.services.accounts import signup
from gateway.services.keys.format import Environment

router = APIRouter(route_class=GatewayRoute, tags=["accounts"])


class RegisterIn(Body):
    email: str = Field(max_length=320)
    username: str | None = Field(default=None, max_length=40)
    environment_tag: Environment = "live"


@router.post("/auth/register", status_code=201)
async def register(payload: RegisterIn, runtime: RuntimeDep, client: ClientAddress) -> Response:
    runtime.throttle.hit(scope="register", client=client)
    created = await signup.register(
        runtime.db,
        email=payload.email,
        username=payload.username,
        environment=payload.environment_tag,
        signup_credits=runtime.signup_credits,
        pepper=runtime.pepper,
    )
    return ok(
        {
            "user_id": created.user.id,
            "username": created.user.username,
            "email": created.user.email,
            "api_key": created.api_key,
            "key_id": created.key.id,
            "credits": credits(created.balance.credits),
            "plan": created.user.plan_id,
        },
        status_code=201,
    )
