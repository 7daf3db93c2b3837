"""No secret reaches a log line — as the SPEC serves the gateway (uvicorn's access log on), and
in a whole run of traffic in both LOG_FORMATs, where every request gets one access line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.console_support import csrf_of
from tests.e2e.processes import Process, gateway_args, simulator_process
from tests.fakes.stripe_api import FakeStripe
from tests.stripe_support import STRIPE_KEY, WEBHOOK_SECRET, stripe_env
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY, bearer, free_port

pytestmark = pytest.mark.e2e
CHAT_ROUTE = "/v1/chat/completions"


def test_keys_in_query_strings_never_reach_the_access_log(tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "gateway.main:app", "--no-proxy-headers", "--port", str(port)]
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/logs.db", "SECRET_KEY": SECRET_KEY, "ADMIN_API_KEY": ADMIN_KEY}
    server = Process(args, env=env, cwd=tmp_path, port=port, log=tmp_path / "server.log")
    try:
        server.wait_ready("/health")
        account = httpx.post(f"{server.url}/auth/register", json={"email": "log@example.com"}).json()
        customer_key = account["api_key"]
        refused_admin_key = "not-the-admin-key-but-still-a-secret-0123456789"
        for url in (
            f"/user/balance?api_key={customer_key}",
            f"/admin/monitor?key={ADMIN_KEY}",
            f"/admin/monitor?token={refused_admin_key}&limit=5",
            f"/v1/models?authorization=Bearer%20{customer_key}",
        ):
            httpx.get(server.url + url)
    finally:
        server.stop()
    output = server.output()
    assert "GET /user/balance" in output and "GET /admin/monitor" in output  # the access log is on
    for secret in (customer_key, customer_key[8:], ADMIN_KEY, refused_admin_key):
        assert secret not in output


# --- a whole run, in both formats -----------------------------------------------------------

UPSTREAM_KEY = "sk-or-upstream-secret-0123456789abcdef"
METRICS_TOKEN = "metrics-token-secret-0123456789abcdef"
PROMPT = "the confidential prompt 7f3a9c"
ACCESS_FIELDS = {
    "request_id", "method", "route", "status", "duration_ms", "user_id", "key", "model", "prompt_tokens",
    "completion_tokens", "cost",
}  # fmt: skip


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    stripe = FakeStripe(webhook_secret=WEBHOOK_SECRET, api_key=STRIPE_KEY)
    with stripe.serving_in_thread():
        yield stripe


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_whole_run_logs_every_request_once_and_no_secret(
    tmp_path: Path, fake_stripe: FakeStripe, log_format: str
) -> None:
    with simulator_process(tmp_path) as upstream:
        env = {
            "DATABASE_URL": f"sqlite:///{tmp_path}/run.db", "SECRET_KEY": SECRET_KEY, "ADMIN_API_KEY": ADMIN_KEY,
            "UPSTREAM_BASE_URL": f"{upstream.url}/v1", "UPSTREAM_API_KEY": UPSTREAM_KEY,
            "METRICS_TOKEN": METRICS_TOKEN, "LOG_FORMAT": log_format, **stripe_env(fake_stripe.url),
        }  # fmt: skip
        port = free_port()
        args = [*gateway_args(port)[:-2], "--log-level", "info", "--no-access-log"]  # the README's command
        server = Process(args, env=env, cwd=tmp_path, port=port, log=tmp_path / "server.log")
        try:
            server.wait_ready("/health")
            fake_stripe.webhook_url = f"{server.url}/stripe/webhook"
            run = whole_run(server, fake_stripe)
        finally:
            server.stop()
    output = server.output()
    for secret in (*run.secrets, ADMIN_KEY, SECRET_KEY, UPSTREAM_KEY, METRICS_TOKEN, STRIPE_KEY, WEBHOOK_SECRET,
                   PROMPT, *run.completions):  # fmt: skip
        assert secret not in output, secret
    lines = access_lines(output, log_format)
    for request_id, route in run.requests.items():
        found = [line for line in lines if line["request_id"] == request_id]
        assert len(found) == 1, (request_id, route, found)
        assert found[0]["route"] == route, found[0]
    chats = [line for line in lines if line["route"] == "/v1/chat/completions" and line["status"] == "200"]
    assert len(chats) == 2
    for line in chats:
        assert line["user_id"].startswith("usr_") and line["key"].startswith("gw_live_") and "…" in line["key"]
        assert line["model"] == "sim/gpt-small" and int(line["prompt_tokens"]) > 0
        assert int(line["completion_tokens"]) > 0 and Decimal(line["cost"]) > 0
    failed = [line for line in lines if line["model"] == "sim/error-401"]
    assert [(f["status"], f["cost"]) for f in failed] == [("502", "0")]


class Run:
    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.completions: list[str] = []
        self.requests: dict[str, str] = {}  # request id → the route template its access line names

    def note(self, response: httpx.Response, route: str) -> httpx.Response:
        self.requests[response.headers["x-request-id"]] = route
        return response


def whole_run(server: Process, fake: FakeStripe) -> Run:
    run = Run()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        account = run.note(client.post("/auth/register", json={"email": "run@example.com"}), "/auth/register").json()
        key = account["api_key"]
        credit = {"user_id": account["user_id"], "credits": "5", "reason": "log test"}
        run.note(client.post("/admin/add_credits", json=credit, headers=ADMIN), "/admin/add_credits")
        created = client.post("/user/api-keys", json={"key_name": "second"}, headers=bearer(key))
        second = run.note(created, "/user/api-keys").json()["api_key"]
        run.secrets += [key, key[8:], second, second[8:]]
        chat = {"model": "sim/gpt-small", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 12}
        answer = run.note(client.post("/v1/chat/completions", json=chat, headers=bearer(second)), CHAT_ROUTE)
        run.completions.append(answer.json()["choices"][0]["message"]["content"])
        with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}, headers=bearer(key)) as s:
            run.note(s, CHAT_ROUTE)
            streamed = s.read().decode()
        run.completions.append(streamed_text(streamed))
        failing = {**chat, "model": "sim/error-401"}
        run.note(client.post("/v1/chat/completions", json=failing, headers=bearer(key)), CHAT_ROUTE)
        run.note(client.get(f"/user/balance?api_key={key}", headers=bearer(key)), "/user/balance")
        run.note(client.get("/metrics", headers=bearer(METRICS_TOKEN)), "/metrics")
        run.note(client.get("/metrics", headers=ADMIN), "/metrics")
        run.note(client.get("/metrics", headers=bearer("not-the-token-but-a-secret-0123456789")), "/metrics")
        run.secrets.append("not-the-token-but-a-secret-0123456789")
        # The console: a sign-in with the key; its cookies are secrets too.
        form = run.note(client.get("/console/sign-in"), "/console/sign-in")
        signed_in = client.post(
            "/console/sign-in", data={"csrf_token": csrf_of(form.text), "api_key": key, "next": ""},
            headers={"origin": server.url},
        )  # fmt: skip
        assert run.note(signed_in, "/console/sign-in").status_code == 303, signed_in.text
        run.secrets += [value for value in client.cookies.values() if len(value) >= 16]
        run.note(client.get("/console/keys"), "/console/keys")
        # Stripe: a checkout paid, its webhook delivered (signed with the webhook secret).
        bought = client.post("/user/checkout", json={"kind": "credits", "amount_usd": "10"}, headers=bearer(key))
        assert run.note(bought, "/user/checkout").status_code == 201, bought.text
        fake.call(fake.complete_checkout(bought.json()["session_id"]))
        assert Decimal(str(client.get("/user/balance", headers=bearer(key)).json()["credits"])) > 5
    assert len(run.completions) == 2 and all(run.completions)
    return run


def streamed_text(sse: str) -> str:
    chunks = [json.loads(block[6:]) for block in sse.split("\n\n") if block.startswith("data: {")]
    return "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk.get("choices", []))


def access_lines(output: str, log_format: str) -> list[dict[str, str]]:
    """Every access line's fields (as text); in `json`, every line of the log must be JSON."""
    found = []
    for line in output.splitlines():
        if log_format == "json":
            document = json.loads(line)
            assert {"time", "level", "logger", "message"} <= set(document), line
            if document["logger"] == "gateway.access":
                assert set(document) >= ACCESS_FIELDS, line
                found.append({name: "" if document[name] is None else str(document[name]) for name in ACCESS_FIELDS})
        elif " gateway.access: " in line:
            _, _, said = line.partition(" gateway.access: ")
            method, route, status, *pairs = said.split(" ")
            fields = dict(pair.split("=", 1) for pair in pairs)
            assert {"request_id", "duration_ms"} <= set(fields), line
            found.append({name: "" for name in ACCESS_FIELDS} | fields | {"method": method, "route": route,
                                                                         "status": status})  # fmt: skip
    return found
