"""The OpenAPI description of `POST /v1/chat/completions`, which FastAPI does not route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}


def chat_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ChatCompletionIn"] = ChatCompletionIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(components["ChatCompletionIn"].pop("$defs", {}))
    components["ErrorBody"] = _ERROR_SCHEMA
    responses: dict[str, Any] = {
        "200": {
            "description": "The upstream's completion, with `usage.cost` (credits charged); "
            "with `stream: true`, server-sent events ending in `data: [DONE]`.",
            "content": {"application/json": {}, "text/event-stream": {}},
        }
    }
    for status, what in {
        "400": "invalid request or model",
        "401": "bad, expired or inactive key",
        "402": "insufficient credits (x-should-retry: false)",
        "413": "body too large",
        "429": "rate limited (Retry-After)",
        "502": "upstream failed (nothing charged)",
        "504": "upstream timed out (nothing charged)",
    }.items():
        responses[status] = {"description": what, "content": {"application/json": {"schema": _ERROR}}}
    schema.setdefault("paths", {})["/v1/chat/completions"] = {
        "post": {
            "tags": ["gateway"],
            "summary": "Create a chat completion (OpenAI-compatible), paid from credits",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionIn"}}},
            },
            "responses": responses,
        }
    }
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
    }
    return schema
