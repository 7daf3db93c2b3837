"""Reading a client's chat completion request: only what the gateway needs is checked;
every other field passes through to the upstream untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import InvalidJson, InvalidRequest

MAX_CHOICES = 128


@dataclass(slots=True)
class ChatRequest:
    raw: bytes
    body: dict[str, Any]
    model: str
    stream: bool
    wants_usage: bool
    n: int
    max_output: int | None  # the client's own output cap per choice, if it gave one


def _positive_int(body: dict[str, Any], name: str, *, upper: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"'{name}' must be a positive integer", param=name)
    if upper is not None and value > upper:
        raise InvalidRequest(f"'{name}' must be at most {upper}", param=name)
    return value


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"'messages[{index}]' must be an object with a string 'role'", param=f"messages[{index}]"
            )


def parse_chat_request(raw: bytes) -> ChatRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string", param="model")
    _check_messages(body.get("messages"))
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object", param="stream_options")
    caps = [c for c in (_positive_int(body, "max_tokens"), _positive_int(body, "max_completion_tokens")) if c]
    return ChatRequest(
        raw=raw,
        body=body,
        model=model,
        stream=stream,
        wants_usage=bool(options and options.get("include_usage") is True),
        n=_positive_int(body, "n", upper=MAX_CHOICES) or 1,
        # With both given, the larger bounds the output whichever the upstream honours.
        max_output=max(caps) if caps else None,
    )
