"""The probes' answers: liveness (the process serves) and readiness (send it traffic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class LiveOut(BaseModel):
    status: Literal["alive"] = "alive"


class ReadyOut(BaseModel):
    status: Literal["ready", "degraded", "not_ready", "shutting_down"]
    checks: dict[str, str]  # database, migrations, catalog, redis: "ok…" or what is wrong
    missing: list[str]  # what keeps it from being ready (empty when it is)
    instance_id: str | None  # the process that answered (as in /admin/monitor's processes)
