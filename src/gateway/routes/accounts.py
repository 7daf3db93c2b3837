"""Registration: anyone may open an account; the throttle is per client IP."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gateway.deps import ClientAddress, RuntimeDep
from gateway.routes.base import GatewayRoute
from gateway.routes.openapi import errors
from gateway.routes.responses import ok
from gateway.schemas.accounts import RegisteredOut, RegisterIn
from gateway.schemas.common import credits
from gateway.services.accounts import signup

router = APIRouter(route_class=GatewayRoute, tags=["accounts"])


@router.post("/auth/register", status_code=201, response_model=RegisteredOut, responses=errors(409, 429))
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
    answer = RegisteredOut(
        user_id=created.user.id,
        username=created.user.username,
        email=created.user.email,
        api_key=created.api_key,
        key_id=created.key.id,
        credits=credits(created.balance.credits),
        plan=created.user.plan_id,
    )
    return ok(answer, status_code=201)
