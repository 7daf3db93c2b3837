import orjson

from gateway.simulator import engine


def _answer(**body: object) -> engine.SimAnswer:
    body.setdefault("model", "sim/gpt-small")
    body.setdefault("messages", [{"role": "user", "content": "Hello"}])
    return engine.answer(body, completion_id="c1", created=1)


def test_token_counts_are_deterministic() -> None:
    doc = orjson.loads(_answer().body)
    # 3 + (4 + ceil(5/4)) = 9 prompt tokens; 20 words
    assert doc["usage"] == {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29}
    assert len(doc["choices"][0]["message"]["content"].split()) == 20


def test_reply_length_honours_the_hint_and_max_tokens() -> None:
    hinted = orjson.loads(_answer(messages=[{"role": "user", "content": "hi [[tokens=7]]"}]).body)
    assert hinted["usage"]["completion_tokens"] == 7
    capped = orjson.loads(_answer(max_tokens=4, n=2).body)
    assert capped["usage"]["completion_tokens"] == 8
    assert capped["choices"][1]["finish_reason"] == "length"


def test_stream_events_and_usage_only_when_asked() -> None:
    plain = _answer(stream=True)
    assert plain.events[-1] == b"[DONE]"
    assert not any(b'"usage"' in e for e in plain.events)
    with_usage = _answer(stream=True, stream_options={"include_usage": True})
    assert orjson.loads(with_usage.events[-2])["usage"]["completion_tokens"] == 20


def test_failing_models() -> None:
    assert _answer(model="sim/fail-500").status == 500
    assert _answer(model="sim/error-429").headers["retry-after"] == "7"
    assert _answer(model="sim/timeout").hang
    assert _answer(model="sim/cut-stream", stream=True).cut_after is not None
    assert _answer(model="nope").status == 404


def test_catalog_has_prices_and_unpriced_models() -> None:
    entries = {e["id"]: e for e in engine.catalog()["data"]}
    assert entries["sim/gpt-small"]["pricing"] == {"prompt": "0.00000015", "completion": "0.0000006"}
    assert "pricing" not in entries["sim/unpriced"]
