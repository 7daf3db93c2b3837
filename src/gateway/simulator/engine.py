"""The simulated upstream's behaviour, as plain data: a priced catalog and deterministic answers.

Token counts are a documented function of the request, so tests can predict every cost:
- prompt tokens = 3 + Σ over messages (4 + ⌈UTF-8 bytes of its text / 4⌉), plus ⌈bytes of
  `tools` as JSON / 4⌉;
- completion tokens per choice = the reply length: `[[tokens=N]]` in the last message if
  present, else 20; never more than the request's `max_tokens` / `max_completion_tokens`,
  nor the model's output limit. Each word of the reply is one token.

Transports (the HTTP server, the in-process upstream) turn a `SimAnswer` into bytes; models
named `sim/fail-*`, `sim/error-NNN`, `sim/timeout`, `sim/cut-stream`, ... fail on purpose.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

DEFAULT_REPLY_TOKENS = 20
_LENGTH_HINT = re.compile(r"\[\[tokens=(\d{1,6})\]\]")
_VOCABULARY = [
    "This",
    "is",
    "a",
    "simulated",
    "reply",
    "from",
    "the",
    "gateway's",
    "built-in",
    "upstream;",
    "every",
    "word",
    "counts",
    "as",
    "exactly",
    "one",
    "token",
    "so",
    "that",
    "costs",
    "are",
    "easy",
    "to",
    "check",
    "by",
    "hand.",
]


@dataclass(frozen=True, slots=True)
class SimModel:
    id: str
    name: str
    prompt: str | None = "0.000001"
    completion: str | None = "0.000002"
    context_length: int = 128_000
    max_output: int = 16_384
    behaviour: str = "normal"
    request: str | None = None


MODELS: tuple[SimModel, ...] = (
    SimModel("sim/gpt-small", "Simulated small chat model", "0.00000015", "0.0000006"),
    SimModel("sim/gpt-large", "Simulated large chat model", "0.0000025", "0.00001"),
    SimModel("sim/claude-like", "Simulated long-context model", "0.000003", "0.000015", 200_000, 8_192),
    SimModel("sim/llama-small", "Simulated small open model", "0.00000005", "0.0000001", 8_192),
    SimModel("sim/per-request", "Simulated model with a request fee", request="0.001"),
    SimModel("sim/free", "Simulated free model", "0", "0"),
    SimModel("sim/unpriced", "Simulated model without a price", None, None),
    SimModel("sim/variable", "Simulated model with a variable price", "-1", "-1"),
    SimModel("sim/fail-500", "Always answers 500", behaviour="status-500"),
    SimModel("sim/fail-503", "Always answers 503", behaviour="status-503"),
    SimModel("sim/error-400", "Always answers 400 (context too long)", behaviour="status-400"),
    SimModel("sim/error-401", "Always answers 401 (reseller key refused)", behaviour="status-401"),
    SimModel("sim/error-402", "Always answers 402 (reseller out of funds)", behaviour="status-402"),
    SimModel("sim/error-403", "Always answers 403", behaviour="status-403"),
    SimModel("sim/error-429", "Always answers 429", behaviour="status-429"),
    SimModel("sim/timeout", "Never answers", behaviour="hang"),
    SimModel("sim/cut-stream", "Drops the connection halfway", behaviour="cut"),
    SimModel("sim/stall-stream", "Stops sending halfway", behaviour="stall"),
    SimModel("sim/no-usage", "Answers without a usage object", behaviour="no-usage"),
    SimModel("sim/overuse", "Reports more tokens than it was allowed", behaviour="overuse"),
)
BY_ID = {m.id: m for m in MODELS}


@dataclass(slots=True)
class SimAnswer:
    """What to send. For streams, `events` are SSE payloads (without `data: `)."""

    status: int
    body: bytes = b""
    events: list[bytes] = field(default_factory=list)
    stream: bool = False
    hang: bool = False
    cut_after: int | None = None
    stall_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tokens: int = 0  # completion tokens per choice: how long a real model would take


def catalog() -> dict[str, Any]:
    """`GET /models` in the aggregators' common format."""
    data = []
    for model in MODELS:
        entry: dict[str, Any] = {
            "id": model.id,
            "name": model.name,
            "created": 1_700_000_000,
            "context_length": model.context_length,
            "top_provider": {"max_completion_tokens": model.max_output},
        }
        if model.prompt is not None and model.completion is not None:
            entry["pricing"] = {"prompt": model.prompt, "completion": model.completion}
            if model.request is not None:
                entry["pricing"]["request"] = model.request
        data.append(entry)
    return {"object": "list", "data": data}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def prompt_tokens(body: dict[str, Any]) -> int:
    total = 3
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            text = _text_of(message.get("content")) + str(message.get("name") or "")
            total += 4 + math.ceil(len(text.encode()) / 4)
    if body.get("tools"):
        total += math.ceil(len(orjson.dumps(body["tools"])) / 4)
    return total


def reply_tokens(body: dict[str, Any], model: SimModel) -> int:
    messages = body.get("messages") or [{}]
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    hint = _LENGTH_HINT.search(_text_of(last.get("content")))
    wanted = int(hint.group(1)) if hint else DEFAULT_REPLY_TOKENS
    limits = [model.max_output, wanted]
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limits.append(value)
    return max(0, min(limits))


def _words(count: int) -> list[str]:
    return [_VOCABULARY[i % len(_VOCABULARY)] for i in range(count)]


def _error(status: int, message: str) -> SimAnswer:
    body = orjson.dumps({"error": {"message": message, "type": "simulated", "code": status}})
    headers = {"retry-after": "7"} if status == 429 else {}
    return SimAnswer(status=status, body=body, headers=headers)


def answer(body: dict[str, Any], *, completion_id: str, created: int, any_model: bool = False) -> SimAnswer:
    """The simulated answer. With `any_model`, ids outside the simulator's catalog are answered
    as an ordinary model (test keys use the live catalog's ids); without, they are a 404 as
    from a real upstream."""
    model = BY_ID.get(str(body.get("model")))
    if model is None and any_model and isinstance(body.get("model"), str):
        model = SimModel(body["model"], body["model"])
    if model is None:
        return _error(404, f"model {body.get('model')!r} does not exist")
    if model.behaviour.startswith("status-"):
        status = int(model.behaviour.removeprefix("status-"))
        return _error(status, f"simulated upstream error {status}")
    if model.behaviour == "hang":
        return SimAnswer(status=200, hang=True)

    requested_n = body.get("n")
    n = requested_n if isinstance(requested_n, int) and requested_n > 0 else 1
    count = reply_tokens(body, model)
    usage = {
        "prompt_tokens": prompt_tokens(body),
        "completion_tokens": count * n,
        "total_tokens": 0,
    }
    if model.behaviour == "overuse":
        usage["completion_tokens"] = (count + 1000) * n
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    reported = None if model.behaviour == "no-usage" else usage
    finish = "length" if count < reply_tokens({"messages": body.get("messages")}, model) else "stop"
    base = {"id": completion_id, "created": created, "model": model.id}

    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _stream(
            base,
            n=n,
            words=_words(count),
            finish=finish,
            usage=reported if include_usage else None,
            model=model,
        )

    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": " ".join(_words(count))},
            "finish_reason": finish,
        }
        for i in range(n)
    ]
    document: dict[str, Any] = {**base, "object": "chat.completion", "choices": choices}
    if reported is not None:
        document["usage"] = reported
    answer_ = SimAnswer(status=200, body=orjson.dumps(document), tokens=count)
    if model.behaviour == "cut":
        answer_.cut_after = 0
    return answer_


def _stream(
    base: dict[str, Any],
    *,
    n: int,
    words: list[str],
    finish: str,
    usage: dict[str, Any] | None,
    model: SimModel,
) -> SimAnswer:
    chunk = {**base, "object": "chat.completion.chunk"}

    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return orjson.dumps({**chunk, "choices": choices, **extra})

    events = [
        event([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None} for i in range(n)])
    ]
    for position, word in enumerate(words):
        text = word if position == 0 else f" {word}"
        events += [event([{"index": i, "delta": {"content": text}, "finish_reason": None}]) for i in range(n)]
    events += [event([{"index": i, "delta": {}, "finish_reason": finish}]) for i in range(n)]
    if usage is not None:
        events.append(event([], usage=usage))
    events.append(b"[DONE]")
    result = SimAnswer(status=200, events=events, stream=True)
    halfway = 1 + (len(words) * n) // 2
    if model.behaviour == "cut":
        result.cut_after = halfway
    elif model.behaviour == "stall":
        result.stall_after = halfway
    return result
