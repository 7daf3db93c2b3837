"""Streamed answers: relayed as they come, settled before the last event."""

import json
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from tests.support import Answer, FakeUpstream, Gateway, bearer

HELLO_COST = Decimal("0.00001335")


def scripted_stream(*events: bytes) -> Answer:
    """An upstream answering these SSE events (each without its blank-line terminator)."""

    async def answer(_: dict[str, Any]) -> web.StreamResponse:
        return web.Response(body=b"".join(e + b"\n\n" for e in events), content_type="text/event-stream")

    return answer


def chunk(choices: str, extra: str = "") -> bytes:
    head = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"sim/gpt-small","choices":'
    return head + choices.encode() + extra.encode() + b"}"


USAGE = ',"usage":{"prompt_tokens":9,"completion_tokens":20,"total_tokens":29}'


def events(text: str) -> list[Any]:
    found = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            payload = block[6:]
            found.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return found


async def stream(gateway: Gateway, api_key: str, **body: Any) -> tuple[int, str]:
    body.setdefault("model", "sim/gpt-small")
    body.setdefault("messages", [{"role": "user", "content": "Hello"}])
    response = await gateway.client.post("/v1/chat/completions", json={**body, "stream": True}, headers=bearer(api_key))
    return response.status_code, response.text


async def test_stream_with_usage_carries_the_cost(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    status, text = await stream(gateway, account["api_key"], stream_options={"include_usage": True})
    assert status == 200
    found = events(text)
    assert found[-1] == "[DONE]"
    usage = found[-2]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (9, 20)
    assert Decimal(orjson.dumps(usage["cost"]).decode()) == HELLO_COST
    content = "".join(e["choices"][0]["delta"].get("content", "") for e in found[:-2] if e["choices"])
    assert len(content.split()) == 20
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == 1 - HELLO_COST


async def test_stream_without_usage_hides_the_usage_chunk_but_charges(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    status, text = await stream(gateway, account["api_key"])
    assert status == 200
    assert '"usage"' not in text
    assert events(text)[-1] == "[DONE]"
    assert (await gateway.balance(account["api_key"]))["credits"] == 1 - HELLO_COST


async def test_the_upstream_is_always_asked_for_usage(proxied: Gateway, upstream: Any) -> None:
    account = await proxied.customer("1")
    status, _ = await stream(proxied, account["api_key"], stream_options={"include_usage": False})
    assert status == 200
    headers, body = upstream.requests[-1]
    assert body["stream_options"] == {"include_usage": True}
    assert headers["Authorization"] == "Bearer sk-upstream-secret-123"
    assert account["api_key"] not in str(headers)


async def test_a_stream_cut_by_the_upstream_is_billed_for_what_was_delivered(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    status, text = await stream(gateway, account["api_key"], model="sim/cut-stream")
    assert status == 200
    found = events(text)
    assert "error" in found[-1] and "[DONE]" not in found
    texts = [
        e["choices"][0]["delta"]["content"]
        for e in found
        if e.get("choices") and e["choices"][0]["delta"].get("content")
    ]
    assert 0 < len(texts) < 20
    # the delivered-usage rule: max(chunks with text, ⌈text bytes / 4⌉); prompt ⌈body bytes / 4⌉
    completion = max(len(texts), -(-sum(len(t.encode()) for t in texts) // 4))
    async with gateway.runtime.db.read() as tx:
        row = await tx.fetchrow("SELECT * FROM usage_records")
    assert row is not None
    assert (row["outcome"], row["usage_source"], row["completion_tokens"]) == ("cut", "estimated", completion)
    # sim/cut-stream costs 0.000001 per prompt token and 0.000002 per completion token
    assert row["cost"] == row["prompt_tokens"] * 1_000 + completion * 2_000
    balance = await gateway.balance(account["api_key"])
    assert balance["credits"] == 1 - Decimal(row["cost"]) / 10**9
    assert balance["reserved"] == 0


async def test_a_stalled_stream_times_out_and_is_billed_for_what_was_delivered(gateway_factory: Any) -> None:
    async with gateway_factory(upstream_timeout=0.3) as gateway:
        account = await gateway.customer("1")
        status, text = await stream(gateway, account["api_key"], model="sim/stall-stream")
        assert status == 200
        assert "error" in events(text)[-1]
        async with gateway.runtime.db.read() as tx:
            row = await tx.fetchrow("SELECT outcome FROM usage_records")
        assert row is not None and row["outcome"] == "timeout"
        assert (await gateway.balance(account["api_key"]))["reserved"] == 0


async def test_stream_of_a_model_without_usage_gets_an_estimated_usage_chunk(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    status, text = await stream(
        gateway, account["api_key"], model="sim/no-usage", stream_options={"include_usage": True}
    )
    assert status == 200
    found = events(text)
    assert found[-1] == "[DONE]"
    texts = [e["choices"][0]["delta"].get("content", "") for e in found[:-2] if e.get("choices")]
    expected = max(sum(1 for t in texts if t), -(-sum(len(t.encode()) for t in texts) // 4))
    assert found[-2]["choices"] == [] and found[-2]["usage"]["completion_tokens"] == expected


async def test_stream_errors_before_the_stream_are_json(gateway: Gateway) -> None:
    account = await gateway.customer("1")
    status, text = await stream(gateway, account["api_key"], model="sim/fail-500")
    assert status == 502
    assert orjson.loads(text)["error"]["code"] == "upstream_error"
    assert (await gateway.balance(account["api_key"]))["credits"] == 1


async def test_stream_chunks_with_nan_are_read_and_passed_through(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(
        chunk(
            '[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"logprob":-Infinity}]},"finish_reason":null}]'
        ),
        chunk('[{"index":0,"delta":{},"logprobs":{"content":[{"logprob":NaN}]},"finish_reason":"stop"}]', USAGE),
        b"data: [DONE]",
    )
    status, text = await stream(proxied, account["api_key"], stream_options={"include_usage": True})
    assert status == 200
    assert '"logprob":-Infinity' in text and '"logprob":NaN' in text
    last = json.loads(text.split("\n\n")[-3].removeprefix("data: "), parse_float=Decimal)
    assert last["usage"]["cost"] == HELLO_COST and last["choices"][0]["finish_reason"] == "stop"
    assert text.endswith("data: [DONE]\n\n")
    assert (await proxied.balance(account["api_key"]))["credits"] == 1 - HELLO_COST


NULL_USAGE_CHUNKS = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null}',
    b'data: {"usage": null, "id":"c1","choices":[{"index":0,"delta":{"content":" you"},"finish_reason":null}]}',
    b'data: {"id":"c1","usage" : null ,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
)


async def test_chunks_reach_a_client_that_did_not_ask_for_usage_as_the_upstream_sent_them(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    """The `"usage": null` in every chunk is an effect of the include_usage the gateway added."""
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(*NULL_USAGE_CHUNKS, chunk("[]", USAGE), b"data: [DONE]")
    status, text = await stream(proxied, account["api_key"])
    assert status == 200
    assert text == (
        'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
        'data: {"id":"c1","choices":[{"index":0,"delta":{"content":" you"},"finish_reason":null}]}\n\n'
        'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    assert (await proxied.balance(account["api_key"]))["credits"] == 1 - HELLO_COST


async def test_chunks_reach_a_client_that_asked_for_usage_untouched(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(*NULL_USAGE_CHUNKS, chunk("[]", USAGE), b"data: [DONE]")
    status, text = await stream(proxied, account["api_key"], stream_options={"include_usage": True})
    assert status == 200
    assert text.startswith("".join(c.decode() + "\n\n" for c in NULL_USAGE_CHUNKS))
    assert events(text)[-2]["usage"]["cost"] == float(HELLO_COST)


async def test_a_usage_chunk_given_its_cost_keeps_its_other_lines(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(
        b"id: 1\nevent: chunk\n" + chunk('[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]'),
        b": usage follows\nid: 2\nevent: chunk\n" + chunk("[]", USAGE) + b"\nretry: 3000",
        b"id: 3\ndata: [DONE]",
    )
    status, text = await stream(proxied, account["api_key"], stream_options={"include_usage": True})
    assert status == 200
    blocks = text.split("\n\n")
    assert blocks[0].startswith("id: 1\nevent: chunk\ndata: {")
    comment, id_line, event_line, data, retry = blocks[1].split("\n")
    assert (comment, id_line, event_line, retry) == (": usage follows", "id: 2", "event: chunk", "retry: 3000")
    assert json.loads(data.removeprefix("data: "), parse_float=Decimal)["usage"]["cost"] == HELLO_COST
    assert blocks[2:] == ["id: 3\ndata: [DONE]", ""]


async def test_a_chunk_stripped_of_usage_keeps_its_other_lines(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    content = '[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]'
    upstream.answer = scripted_stream(b"id: 1\nevent: chunk\n" + chunk(content, USAGE), b"id: 2\ndata: [DONE]")
    status, text = await stream(proxied, account["api_key"])
    assert status == 200
    assert text == f"id: 1\nevent: chunk\n{chunk(content).decode()}\n\nid: 2\ndata: [DONE]\n\n"
    assert (await proxied.balance(account["api_key"]))["credits"] == 1 - HELLO_COST


def choice(index: int, content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    return chunk(orjson.dumps([{"index": index, "delta": delta, "finish_reason": finish}]).decode())


async def usage_row(gateway: Gateway) -> Any:
    async with gateway.runtime.db.read() as tx:
        return await tx.fetchrow("SELECT * FROM usage_records")


async def test_a_stream_whose_choices_all_finished_completed_without_done(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(
        choice(0, "Hello"), choice(1, "Hi"), choice(0, None, "stop"), choice(1, None, "length")
    )
    status, text = await stream(proxied, account["api_key"], n=2, stream_options={"include_usage": True})
    assert status == 200
    found = events(text)
    assert found[-1] == "[DONE]" and not any("error" in e for e in found[:-1])
    row = await usage_row(proxied)
    # the delivered-usage rule: max(2 chunks with text, ⌈7 bytes / 4⌉) completion tokens
    assert (row["outcome"], row["usage_source"], row["completion_tokens"]) == ("completed", "estimated", 2)
    assert found[-2]["choices"] == [] and found[-2]["usage"]["completion_tokens"] == 2
    assert found[-2]["id"] == "c1"
    # sim/gpt-small: 150 nano-credits per prompt token, 600 per completion token
    assert row["cost"] == row["prompt_tokens"] * 150 + 2 * 600
    assert (await proxied.balance(account["api_key"]))["credits"] == 1 - Decimal(row["cost"]) / 10**9


async def test_a_stream_that_finished_without_done_ends_normally_for_a_client_without_usage(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(choice(0, "Hello"), choice(0, None, "stop"))
    status, text = await stream(proxied, account["api_key"])
    assert status == 200
    assert text == f"{choice(0, 'Hello').decode()}\n\n{choice(0, None, 'stop').decode()}\n\ndata: [DONE]\n\n"
    assert (await usage_row(proxied))["outcome"] == "completed"


async def test_a_stream_with_an_unfinished_choice_and_no_done_was_cut(proxied: Gateway, upstream: FakeUpstream) -> None:
    account = await proxied.customer("1")
    upstream.answer = scripted_stream(choice(0, "Hello"), choice(1, "Hi"), choice(0, None, "stop"))
    status, text = await stream(proxied, account["api_key"], n=2)
    assert status == 200
    found = events(text)
    assert "error" in found[-1] and "[DONE]" not in found
    assert (await usage_row(proxied))["outcome"] == "cut"
