import orjson

from gateway.services.billing import estimate
from gateway.simulator import engine


def _body(messages: list[dict[str, object]], **extra: object) -> tuple[bytes, dict[str, object]]:
    body = {"model": "m", "messages": messages, **extra}
    return orjson.dumps(body), body


def test_upper_bound_covers_the_simulators_count_and_real_tokenizers() -> None:
    for text in ["", "Hello", "日本語のテキスト" * 50, "a b c " * 1000, "🙂" * 100]:
        raw, body = _body([{"role": "system", "content": "be terse"}, {"role": "user", "content": text}])
        bound = estimate.prompt_upper_bound(body_bytes=len(raw), body=body, context_length=None)
        assert bound >= engine.prompt_tokens(body)
        # byte-level BPE makes at most one token per byte of text
        assert bound >= len(text.encode()) + 3


def test_media_parts_get_an_allowance_and_context_caps_the_bound() -> None:
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]
    raw, body = _body([{"role": "user", "content": parts}])
    bound = estimate.prompt_upper_bound(body_bytes=len(raw), body=body, context_length=None)
    assert bound == len(raw) + estimate.REPLY_PRIMING_TOKENS + estimate.MEDIA_PART_TOKENS
    assert estimate.prompt_upper_bound(body_bytes=len(raw), body=body, context_length=100) == 100


def test_delivered_completion_tokens_rule() -> None:
    delivered = estimate.DeliveredText()
    delivered.add_choices([{"delta": {"content": "Hello"}}, {"delta": {"content": ""}}], "delta")
    delivered.add_choices([{"delta": {"tool_calls": [{"function": {"arguments": '{"a":1}'}}]}}], "delta")
    # two chunks carried text, 12 bytes in all: max(2, ⌈12 / 4⌉) = 3
    assert (delivered.pieces, delivered.bytes, delivered.tokens) == (2, 12, 3)
    for _ in range(5):  # many one-letter chunks: at least one token each
        delivered.add_choices([{"delta": {"content": "a"}}], "delta")
    assert delivered.tokens == 7
    assert estimate.completion_tokens_of_choices(None, "delta") == 0


def test_estimated_prompt_never_exceeds_the_bound() -> None:
    assert estimate.estimated_prompt_tokens(body_bytes=400, upper_bound=1000) == 100
    assert estimate.estimated_prompt_tokens(body_bytes=400, upper_bound=50) == 50
