"""Token counts the gateway must work out itself, each by a written rule.

**Prompt upper bound** (for the hold): byte-level tokenizers never make more tokens
than bytes, so the request body's UTF-8 byte length bounds the prompt's text, and the JSON
framing of each message (≥ 28 bytes) exceeds the 3-4 framing tokens chat templates add per
message. Added on top: 3 tokens that prime the reply, and 2,000 for each non-text content
part (image, audio, file), whose tokens do not follow from their bytes. A model's context
length also bounds its prompt, so the bound is min(that, context_length).

**Delivered usage** (when the upstream reports none, e.g. a stream it cut):
- prompt tokens = ⌈request bytes / 4⌉, never more than the upper bound;
- completion tokens = max(number of delivered chunks that carry text, ⌈UTF-8 bytes of all
  that text / 4⌉), where text is content, reasoning, refusal and tool-call names and
  arguments (for a whole answer, each choice counts as one chunk).
"""

from __future__ import annotations

import math
from typing import Any

REPLY_PRIMING_TOKENS = 3
MEDIA_PART_TOKENS = 2_000
_TEXT_FIELDS = ("content", "reasoning", "reasoning_content", "refusal")


def prompt_upper_bound(*, body_bytes: int, body: dict[str, Any], context_length: int | None) -> int:
    media_parts = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            media_parts += sum(1 for part in content if not (isinstance(part, dict) and part.get("type") == "text"))
    bound = body_bytes + REPLY_PRIMING_TOKENS + media_parts * MEDIA_PART_TOKENS
    return min(bound, context_length) if context_length else bound


def estimated_prompt_tokens(*, body_bytes: int, upper_bound: int) -> int:
    return min(upper_bound, math.ceil(body_bytes / 4))


def text_bytes(part: Any) -> int:
    """UTF-8 bytes of the text a message or delta carries."""
    if not isinstance(part, dict):
        return 0
    total = 0
    for name in _TEXT_FIELDS:
        value = part.get(name)
        if isinstance(value, str):
            total += len(value.encode())
    for call in part.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            for name in ("name", "arguments"):
                value = function.get(name)
                if isinstance(value, str):
                    total += len(value.encode())
    return total


class DeliveredText:
    """Counts what reached the client, for the delivered-usage rule."""

    def __init__(self) -> None:
        self.pieces = 0
        self.bytes = 0

    def add_choices(self, choices: Any, field: str) -> None:
        if not isinstance(choices, list):
            return
        for choice in choices:
            size = text_bytes(choice.get(field)) if isinstance(choice, dict) else 0
            if size:
                self.pieces += 1
                self.bytes += size

    @property
    def tokens(self) -> int:
        return max(self.pieces, math.ceil(self.bytes / 4))


def completion_tokens_of_choices(choices: Any, field: str) -> int:
    """Delivered completion tokens of `choices[].message` (or `.delta` of one chunk)."""
    delivered = DeliveredText()
    delivered.add_choices(choices, field)
    return delivered.tokens
