"""End to end: the real server process (uvicorn, as the SPEC serves it) and the official SDK."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.processes import Process, gateway_process, simulator_process
from tests.support import ADMIN, ADMIN_KEY, SECRET_KEY

pytestmark = pytest.mark.e2e
HELLO_COST = Decimal("0.00001335")  # sim/gpt-small, "Hello": 9 prompt + 20 completion tokens


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path}/e2e.db",
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_API_KEY": ADMIN_KEY,
        "REGISTER_RATE_LIMIT": "1000/minute",
        **extra,
    }


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Process]:
    with gateway_process(tmp_path, **base_env(tmp_path, UPSTREAM_TIMEOUT="1")) as process:
        yield process


def customer(server: Process, credits: str, email: str = "sdk@example.com", env: str = "live") -> dict[str, Any]:
    account: dict[str, Any] = httpx.post(
        f"{server.url}/auth/register", json={"email": email, "environment_tag": env}
    ).json()
    assigned = httpx.post(
        f"{server.url}/admin/assign-plan", json={"user_id": account["user_id"], "plan_id": "enterprise"}, headers=ADMIN
    )
    assert assigned.status_code == 200, assigned.text
    if Decimal(credits):
        topped = httpx.post(
            f"{server.url}/admin/add_credits",
            json={"user_id": account["user_id"], "credits": credits, "reason": "e2e"},
            headers=ADMIN,
        )
        assert topped.status_code == 200, topped.text
    return account


def balance(server: Process, api_key: str) -> Decimal:
    response = httpx.get(f"{server.url}/user/balance", headers={"authorization": f"Bearer {api_key}"})
    return Decimal(str(response.json()["credits"]))


def sdk(server: Process, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=api_key, base_url=f"{server.url}/v1", max_retries=0, timeout=30)


def test_non_streaming_completion_costs_exactly(server: Process) -> None:
    account = customer(server, "1")
    completion = sdk(server, account["api_key"]).chat.completions.create(
        model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}]
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 20)
    cost = Decimal(str(completion.usage.model_extra["cost"]))  # type: ignore[index]
    assert cost == HELLO_COST
    assert balance(server, account["api_key"]) == 1 - HELLO_COST


def test_streaming_with_and_without_usage(server: Process) -> None:
    account = customer(server, "1")
    client = sdk(server, account["api_key"])
    chunks = list(
        client.chat.completions.create(
            model="sim/gpt-small",
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 20
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 20
    assert Decimal(str(usage.model_extra["cost"])) == HELLO_COST  # type: ignore[index]
    assert balance(server, account["api_key"]) == 1 - HELLO_COST  # committed before the stream ended

    plain = list(
        client.chat.completions.create(
            model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}], stream=True
        )
    )
    assert all(c.usage is None for c in plain)
    assert balance(server, account["api_key"]) == 1 - 2 * HELLO_COST


def test_models_list(server: Process) -> None:
    account = customer(server, "0")
    ids = {m.id for m in sdk(server, account["api_key"]).models.list()}
    assert "sim/gpt-small" in ids and "sim/unpriced" not in ids


def test_models_retrieve(server: Process) -> None:
    client = sdk(server, customer(server, "0")["api_key"])
    model = client.models.retrieve("sim/gpt-small")  # the SDK sends /v1/models/sim%2Fgpt-small
    assert (model.id, model.object, model.owned_by) == ("sim/gpt-small", "model", "sim")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("sim/unpriced")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no/such-model")


def test_errors_raise_the_right_sdk_exceptions(server: Process) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(server, "gw_live_" + "x" * 43).chat.completions.create(
            model="sim/gpt-small", messages=[{"role": "user", "content": "Hi"}]
        )
    broke = customer(server, "0", email="broke@example.com")
    with pytest.raises(openai.APIStatusError) as payment:
        sdk(server, broke["api_key"]).chat.completions.create(
            model="sim/gpt-small", messages=[{"role": "user", "content": "Hi"}]
        )
    assert payment.value.status_code == 402
    assert payment.value.response.headers["x-should-retry"] == "false"
    rich = customer(server, "1", email="rich@example.com")
    client = sdk(server, rich["api_key"])
    for model, status in [("sim/fail-500", 502), ("sim/timeout", 504)]:
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
        assert failed.value.status_code == status
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="no/such-model", messages=[{"role": "user", "content": "Hi"}])
    assert balance(server, rich["api_key"]) == 1


def test_test_keys_work_with_the_same_code_for_free(server: Process) -> None:
    account = customer(server, "0", email="tester@example.com", env="test")
    completion = sdk(server, account["api_key"]).chat.completions.create(
        model="sim/gpt-large", messages=[{"role": "user", "content": "Hello"}]
    )
    assert completion.usage is not None
    assert completion.usage.model_extra["cost"] == 0  # type: ignore[index]


def test_many_simultaneous_sdk_requests_never_overdraw(server: Process, tmp_path: Path) -> None:
    account = customer(server, "0.00005")  # pays for a few requests only

    async def run() -> list[int]:
        client = openai.AsyncOpenAI(api_key=account["api_key"], base_url=f"{server.url}/v1", max_retries=0)

        async def one() -> int:
            try:
                await client.chat.completions.create(
                    model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}], max_tokens=20
                )
            except openai.APIStatusError as error:
                return error.status_code
            return 200

        try:
            return list(await asyncio.gather(*(one() for _ in range(60))))
        finally:
            await client.close()

    statuses = asyncio.run(run())
    assert set(statuses) <= {200, 402}
    served = statuses.count(200)
    assert 0 < served <= 3  # 0.00005 pays for 3 answers at 0.00001335
    left = balance(server, account["api_key"])
    assert left == Decimal("0.00005") - served * HELLO_COST >= 0
    db = sqlite3.connect(tmp_path / "e2e.db")
    (total,) = db.execute("SELECT SUM(amount) FROM ledger WHERE user_id = ?", (account["user_id"],)).fetchone()
    (credits, reserved) = db.execute(
        "SELECT credits, reserved FROM balances WHERE user_id = ?", (account["user_id"],)
    ).fetchone()
    assert total == credits + reserved and reserved == 0


def test_a_dropped_stream_is_read_to_the_end_and_billed_in_full(tmp_path: Path) -> None:
    with (
        simulator_process(tmp_path, token_delay_ms=20) as upstream,
        gateway_process(tmp_path, **base_env(tmp_path, UPSTREAM_BASE_URL=f"{upstream.url}/v1")) as server,
    ):
        account = customer(server, "1")
        stream = sdk(server, account["api_key"]).chat.completions.create(
            model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}], stream=True
        )
        for _, _chunk in zip(range(3), stream, strict=False):
            pass
        stream.close()  # the client hangs up after three chunks
        deadline = time.monotonic() + 10
        while balance(server, account["api_key"]) != 1 - HELLO_COST and time.monotonic() < deadline:
            time.sleep(0.1)
        assert balance(server, account["api_key"]) == 1 - HELLO_COST


def test_sigterm_lets_an_in_flight_stream_finish_and_settle(tmp_path: Path) -> None:
    with (
        simulator_process(tmp_path, token_delay_ms=50) as upstream,
        gateway_process(tmp_path, **base_env(tmp_path, UPSTREAM_BASE_URL=f"{upstream.url}/v1")) as server,
    ):
        account = customer(server, "1")
        received: list[str] = []

        def consume() -> None:
            for chunk in sdk(server, account["api_key"]).chat.completions.create(
                model="sim/gpt-small", messages=[{"role": "user", "content": "Hello"}], stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)

        reader = threading.Thread(target=consume)
        reader.start()
        while not received:
            time.sleep(0.01)
        server.popen.send_signal(signal.SIGTERM)
        reader.join(timeout=20)
        assert len(received) == 20  # the whole answer arrived
        # uvicorn re-raises the signal once its graceful shutdown is done
        assert server.popen.wait(timeout=20) in (0, -signal.SIGTERM)
        db = sqlite3.connect(tmp_path / "e2e.db")
        (credits, reserved) = db.execute(
            "SELECT credits, reserved FROM balances WHERE user_id = ?", (account["user_id"],)
        ).fetchone()
        assert (credits, reserved) == (10**9 - 13_350, 0)
