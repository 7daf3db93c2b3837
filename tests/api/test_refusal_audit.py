"""Allowlist refusals reach the audit log at most once a minute per key and reason: they come
before any rate limit, so a leaked key used from elsewhere must not be able to fill the log."""

from __future__ import annotations

from typing import Any

from gateway.services.audit.chain import Auditor
from tests.api.test_key_management import new_key
from tests.support import Gateway, bearer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def with_clock(gateway: Gateway) -> Clock:
    clock = Clock()
    gateway.runtime.auditor = Auditor(gateway.runtime.auditor.key, timer=clock)
    return clock


async def refusals(gateway: Gateway, api_key: str) -> list[str]:
    logs = (await gateway.client.get("/user/api-keys/audit-logs", headers=bearer(api_key))).json()
    return [e["action"] for e in logs["data"] if e["action"].startswith("request.")]


async def test_many_refusals_are_one_entry_a_minute(gateway: Gateway) -> None:
    clock = with_clock(gateway)
    account = await gateway.customer("1")
    by_ip = await new_key(gateway, account["api_key"], ip_allowlist=["198.51.100.0/24"])
    by_domain = await new_key(gateway, account["api_key"], domain_referrers=["app.example.com"])
    body: dict[str, Any] = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "hi"}]}
    for _ in range(20):
        assert (await gateway.client.get("/user/balance", headers=bearer(by_ip["api_key"]))).status_code == 403
        chat = await gateway.client.post("/v1/chat/completions", json=body, headers=bearer(by_ip["api_key"]))
        assert chat.status_code == 403
        assert (await gateway.client.get("/user/balance", headers=bearer(by_domain["api_key"]))).status_code == 403
    assert sorted(await refusals(gateway, account["api_key"])) == [
        "request.domain_not_allowed",
        "request.ip_not_allowed",
    ]

    clock.now += 59
    assert (await gateway.client.get("/user/balance", headers=bearer(by_ip["api_key"]))).status_code == 403
    assert len(await refusals(gateway, account["api_key"])) == 2  # still the same minute

    clock.now += 2
    for _ in range(5):
        assert (await gateway.client.get("/user/balance", headers=bearer(by_ip["api_key"]))).status_code == 403
    assert (await refusals(gateway, account["api_key"])).count("request.ip_not_allowed") == 2
