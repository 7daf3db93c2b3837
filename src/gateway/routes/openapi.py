"""The OpenAPI description: every operation's answer and the error statuses it really
returns (always in the OpenAI shape), the chat route FastAPI does not route, and no 422 —
the gateway answers a request it cannot read with a 400."""

from __future__ import annotations

from typing import Any

from gateway.schemas.chat import ChatCompletionIn, ChatCompletionOut
from gateway.schemas.common import ErrorBody

_WHAT = {
    400: "the request cannot be read: bad JSON, nested too deep, a field missing, unknown or out of range",
    401: "the key is missing, invalid, expired or inactive",
    402: "insufficient credits, or the key's spend limit (x-should-retry: false)",
    403: "refused: the key's IP or domain allowlist, the plan, or an admin route",
    404: "not found (another customer's records are never found)",
    409: "already exists, or a reference reused for another operation",
    413: "the request body is too large",
    429: "a rate limit (Retry-After, x-ratelimit-* headers)",
    500: "an unexpected failure (nothing of its cause is shown)",
    502: "the upstream provider failed: nothing was charged",
    503: "the gateway is starting, or the model catalog is not available yet",
    504: "the upstream provider did not answer in time: nothing was charged",
}
# What any request can meet: a body too large or nested too deep, an unexpected failure, a
# gateway still starting.
ALWAYS = (400, 413, 500, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of an operation (or a router) that may also answer `statuses`."""
    return {status: {"model": ErrorBody, "description": _WHAT[status]} for status in sorted({*ALWAYS, *statuses})}


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's description, made true to the gateway."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    _add_chat(schema, components)
    return schema


def _add_chat(schema: dict[str, Any], components: dict[str, Any]) -> None:
    for model in (ChatCompletionIn, ChatCompletionOut):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    responses: dict[str, Any] = {
        "200": {
            "description": "The completion, with `usage.cost`; with `stream: true`, server-sent events.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionOut"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    }
    for status in sorted({*ALWAYS, 401, 402, 403, 429, 502, 504}):
        responses[str(status)] = {
            "description": _WHAT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
    schema.setdefault("paths", {})["/v1/chat/completions"] = {
        "post": {
            "tags": ["gateway"],
            "summary": "Create a chat completion (OpenAI-compatible), paid from credits",
            "operationId": "create_chat_completion",
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionIn"}}},
            },
            "responses": responses,
        }
    }
    schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
