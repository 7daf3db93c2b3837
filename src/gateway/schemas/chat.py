"""`POST /v1/chat/completions` in the OpenAPI description: the raw chat handler is not routed
by FastAPI, so its request and answer are described here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.common import Credits


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: Any = None


class ChatCompletionIn(BaseModel):
    """The OpenAI chat completion request; fields not listed pass through to the upstream."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=128)


class ChatUsage(BaseModel):
    """The upstream's token counts, with its cost-like fields replaced by the gateway's."""

    model_config = ConfigDict(extra="allow")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: Credits = Field(description="credits charged for this request")


class ChatCompletionOut(BaseModel):
    """The upstream's completion, unchanged but for `usage`. With `stream: true`: server-sent
    events of chat.completion.chunk objects ending in `data: [DONE]` (the last chunk with
    `usage` when `stream_options.include_usage` asks for it)."""

    model_config = ConfigDict(extra="allow")
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: ChatUsage
