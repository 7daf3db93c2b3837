"""A key's allowlists hold on every route the key can call, not only on `/v1/*`; the client
address reads every `X-Forwarded-For` line; origins browsers never send match nothing."""

from __future__ import annotations

from typing import Any

from tests.api.test_key_management import new_key
from tests.support import Gateway, bearer

ALLOWED = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


async def ip_restricted(gateway: Gateway) -> tuple[dict[str, Any], dict[str, Any]]:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], ip_allowlist=["198.51.100.0/24"])
    return account, key


async def test_an_ip_restricted_key_cannot_manage_keys_from_elsewhere(gateway: Gateway) -> None:
    account, key = await ip_restricted(gateway)
    restricted = bearer(key["api_key"])  # the test client's address is 127.0.0.1: not on the list
    attempts: list[tuple[str, str, Any]] = [
        ("POST", "/user/api-keys", {"key_name": "escape"}),
        ("PUT", f"/user/api-keys/{key['id']}", {"action": "update", "ip_allowlist": []}),
        ("PUT", f"/user/api-keys/{key['id']}", {"action": "rotate"}),
        ("GET", "/user/balance", None),
        ("GET", "/user/api-keys", None),
        ("DELETE", "/user/account?confirmation=DELETE_ACCOUNT", None),
    ]
    for method, path, body in attempts:
        refused = await gateway.client.request(method, path, json=body, headers=restricted)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "ip_not_allowed"
    keys = (await gateway.client.get("/user/api-keys", headers=bearer(account["api_key"]))).json()["data"]
    assert len(keys) == 2  # nothing was minted
    assert next(k for k in keys if k["id"] == key["id"])["ip_allowlist"] == ["198.51.100.0/24"]
    assert (await gateway.balance(account["api_key"]))["status"] == "active"
    logs = (await gateway.client.get("/user/api-keys/audit-logs", headers=bearer(account["api_key"]))).json()
    assert [e["action"] for e in logs["data"]].count("request.ip_not_allowed") == 1  # once a minute


async def test_an_ip_restricted_key_works_from_its_address(gateway_factory: Any) -> None:
    async with gateway_factory(trusted_proxies="127.0.0.1/32") as gateway:
        _, key = await ip_restricted(gateway)
        headers = {**bearer(key["api_key"]), "x-forwarded-for": ALLOWED}
        assert (await gateway.client.get("/user/balance", headers=headers)).status_code == 200
        created = await gateway.client.post("/user/api-keys", json={"key_name": "ok"}, headers=headers)
        assert created.status_code == 201


async def test_a_domain_restricted_key_needs_its_origin_on_customer_routes(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], domain_referrers=["app.example.com"])
    restricted = bearer(key["api_key"])
    refused = await gateway.client.get("/user/balance", headers=restricted)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "domain_not_allowed"
    allowed = await gateway.client.get("/user/balance", headers={**restricted, "origin": "https://app.example.com"})
    assert allowed.status_code == 200


def several_lines(*values: str) -> list[tuple[str, str]]:
    return [("x-forwarded-for", value) for value in values]


async def test_every_forwarded_for_line_counts(gateway_factory: Any) -> None:
    """A proxy that appends its own header line must not let the client's spoofed line decide."""
    async with gateway_factory(trusted_proxies="127.0.0.1/32") as gateway:
        _, key = await ip_restricted(gateway)
        spoofed = several_lines(ALLOWED, ELSEWHERE)  # the client wrote the first line, our proxy the second
        for path in ("/user/balance",):
            refused = await gateway.client.get(path, headers=[*bearer(key["api_key"]).items(), *spoofed])
            assert refused.status_code == 403, refused.text
        chat = await gateway.client.post(
            "/v1/chat/completions",
            json={"model": "sim/gpt-small", "messages": [{"role": "user", "content": "hi"}]},
            headers=[*bearer(key["api_key"]).items(), *spoofed],
        )
        assert chat.status_code == 403 and chat.json()["error"]["code"] == "ip_not_allowed"
        honest = several_lines(ELSEWHERE, ALLOWED)
        allowed = await gateway.client.get("/user/balance", headers=[*bearer(key["api_key"]).items(), *honest])
        assert allowed.status_code == 200


async def test_origins_browsers_never_send_match_nothing(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    key = await new_key(gateway, account["api_key"], domain_referrers=["*.example.com"])
    body = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": "hi"}]}
    for origin in ("https://evil.net\\@app.example.com", "https://evil.net%2F.example.com"):
        refused = await gateway.client.post(
            "/v1/chat/completions", json=body, headers={**bearer(key["api_key"]), "origin": origin}
        )
        assert refused.status_code == 403, origin
        assert refused.json()["error"]["code"] == "domain_not_allowed"
