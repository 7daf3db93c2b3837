"""Many simultaneous clients of one customer on a key whose spend limit and request cap both
bind: successes, failing upstreams (their holds are released), cut streams (settled for what
was delivered) and refusals interleave. No deadlock may surface as a 500 or a broken stream,
the key never spends past its limit, and no hold may be left behind."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from tests.conformance.conftest import Backend
from tests.conformance.test_gateways import new_key
from tests.support import Gateway, bearer

Gateways = Callable[..., AbstractAsyncContextManager[Gateway]]
CLIENTS = 30
ROUNDS = 4
# Every body names max_tokens, so that holds are near what an answer costs: a spend limit of a
# few answers' worth binds on holds in flight and on what was spent.
SPEND_LIMIT = Decimal("0.002")  # ~9 answers of sim/gpt-large; the mix could spend ~0.005
MAX_REQUESTS = 30  # about 50 of the 120 calls get past the spend limit
REFUSED = {402, 429}  # the key's spend limit, its request cap
MIX: list[tuple[dict[str, Any], int]] = [  # a body, and the status it gets when not refused
    ({"model": "sim/gpt-small", "max_tokens": 20}, 200),
    ({"model": "sim/fail-500", "max_tokens": 20}, 502),
    ({"model": "sim/gpt-small", "max_tokens": 20, "stream": True, "stream_options": {"include_usage": True}}, 200),
    ({"model": "sim/fail-503", "max_tokens": 20, "stream": True}, 502),
    ({"model": "sim/cut-stream", "max_tokens": 20, "stream": True}, 200),
    ({"model": "sim/gpt-large", "max_tokens": 50}, 200),
]


Seen = tuple[dict[str, Any], int, int, str]  # body, the status its model gets, the status, the text


async def client(gateway: Gateway, api_key: str, number: int) -> list[Seen]:
    seen = []
    for round_ in range(ROUNDS):
        body, expected = MIX[(number + round_) % len(MIX)]
        response = await gateway.client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "Hi"}], **body},
            headers=bearer(api_key),
        )
        seen.append((body, expected, response.status_code, response.text))
    return seen


def assert_answered_as_its_model(body: dict[str, Any], expected: int, status: int, text: str) -> None:
    assert status in REFUSED | {expected}, (body["model"], status, text[-300:])
    if status != 200 or not body.get("stream"):
        return
    last = text.rstrip().rsplit("\n", 1)[-1]
    if body["model"] == "sim/cut-stream":  # the gateway's error event, billed for what was delivered
        assert '"code":"upstream_error"' in last and "[DONE]" not in text, text[-300:]
    else:
        assert last == "data: [DONE]", text[-300:]


async def test_no_deadlock_no_leaked_hold_under_concurrent_failures(gateways: Gateways) -> None:
    async with gateways() as gateway:
        account = await gateway.customer("5")
        key = await new_key(gateway, account["api_key"], spend_limit=str(SPEND_LIMIT), max_requests=MAX_REQUESTS)
        results = [
            seen
            for group in await asyncio.gather(*(client(gateway, key["api_key"], n) for n in range(CLIENTS)))
            for seen in group
        ]
        for seen in results:
            assert_answered_as_its_model(*seen)
        statuses = Counter(status for _, _, status, _ in results)
        assert statuses[402] > 0 and statuses[429] > 0, statuses  # both of the key's limits bound
        assert statuses[200] > 0 and statuses[502] > 0, statuses
        async with gateway.runtime.db.read() as tx:
            row = await tx.fetchrow("SELECT spent, held, request_count FROM api_keys WHERE id = $1", key["id"])
            open_holds = await tx.fetchval("SELECT COUNT(*) FROM reservations")
        assert row is not None and row["held"] == 0 and open_holds == 0
        assert 0 < row["spent"] <= SPEND_LIMIT * 10**9
        # every forwarded call (a hold was placed) counts once, up to the cap and no further
        assert row["request_count"] == len(results) - statuses[402] - statuses[429] == MAX_REQUESTS
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0
        assert balance["credits"] == 5 - Decimal(row["spent"]) / 10**9  # the key paid for everything
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9


# A trigger that refuses every usage row: the settlement's own transaction fails in the
# database (a release does not write one, so the hold can still be given back).
REFUSE_USAGE_ROWS = {
    "sqlite": [
        "CREATE TRIGGER usage_rows_refused BEFORE INSERT ON usage_records"
        " BEGIN SELECT RAISE(ABORT, 'the database refused the write'); END",
    ],
    "postgres": [
        "CREATE FUNCTION usage_rows_refused() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'the database refused the write'; END $$",
        "CREATE TRIGGER usage_rows_refused BEFORE INSERT ON usage_records"
        " FOR EACH ROW EXECUTE FUNCTION usage_rows_refused()",
    ],
}
ACCEPT_USAGE_ROWS = {
    "sqlite": ["DROP TRIGGER usage_rows_refused"],
    "postgres": ["DROP TRIGGER usage_rows_refused ON usage_records", "DROP FUNCTION usage_rows_refused()"],
}


async def run_ddl(gateway: Gateway, statements: list[str]) -> None:
    async with gateway.runtime.db.transaction() as tx:
        for statement in statements:
            await tx.execute(statement)


async def test_a_settlement_that_cannot_be_written_releases_its_hold(backend: Backend, gateways: Gateways) -> None:
    """The call ends only once its write committed; when the database refuses it, the hold is
    released (at once, or at the next heartbeat) instead of staying held until a restart."""
    dialect = "sqlite" if backend.name == "sqlite" else "postgres"
    async with gateways() as gateway:
        account = await gateway.customer("1")
        await run_ddl(gateway, REFUSE_USAGE_ROWS[dialect])
        try:
            whole = await gateway.chat(account["api_key"])
            stream = await gateway.chat(account["api_key"], stream=True)
        finally:
            await run_ddl(gateway, ACCEPT_USAGE_ROWS[dialect])
        # Nothing was delivered unpaid-for in silence: the answer is an error, and a stream
        # (whose status was sent) ends with the error event instead of [DONE].
        assert whole.status_code == 500 and whole.json()["error"]["code"] == "internal_error", whole.text
        assert stream.status_code == 200
        last = stream.text.rstrip().rsplit("\n", 1)[-1]
        assert '"code":"internal_error"' in last and "[DONE]" not in stream.text, stream.text[-300:]
        for _ in range(100):
            if (await gateway.balance(account["api_key"]))["reserved"] == 0:
                break
            await asyncio.sleep(0.02)
        balance = await gateway.balance(account["api_key"])
        assert balance["reserved"] == 0 and balance["credits"] == 1
        assert len(gateway.runtime.releases) == 0
        assert await gateway.ledger_total(account["user_id"]) == balance["credits"] * 10**9
