"""Stripe's wire format for the fake: form bodies with bracketed keys, the error body, list
objects, and ids that look like Stripe's (length matters to columns that store them)."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_ALPHABET = string.ascii_letters + string.digits
# Hash-valued params whose keys are the caller's own, never list indexes.
_HASHES = frozenset({"metadata"})


class StripeFakeError(Exception):
    """An API error, rendered as Stripe renders it: `{"error": {"type", "message", ...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id", status: int = 404) -> StripeFakeError:
    return StripeFakeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeFakeError:
    return StripeFakeError(400, message, param=param, code=code)


def required(param: str) -> StripeFakeError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0][c]=v` pairs (as `parse_qsl(..., keep_blank_values=True)` gives them) as nested
    dicts and lists. Values stay strings; `[]` appends; numeric keys make lists, except under
    hash params such as `metadata`."""
    tree: dict[str, Any] = {}
    for key, value in pairs:
        path = _split_key(key)
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part or str(len(node)), {})
            if not isinstance(child, dict):
                raise invalid(f"Invalid params: `{key}` mixes a value and a hash.", param=key)
            node = child
        leaf = path[-1] or str(len(node))
        if isinstance(node.get(leaf), dict):
            raise invalid(f"Invalid params: `{key}` mixes a value and a hash.", param=key)
        node[leaf] = value
    listed: dict[str, Any] = _listify(tree, parent=None)
    return listed


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = _BRACKET.findall(bracket + rest)
    if not head or "".join(f"[{p}]" for p in parts) != bracket + rest:
        raise invalid(f"Invalid parameter name: {key}", param=key)
    return [head, *parts]


def _listify(node: Any, parent: str | None) -> Any:
    if not isinstance(node, dict):
        return node
    if node and parent not in _HASHES and all(k.isdigit() for k in node):
        return [_listify(node[k], None) for k in sorted(node, key=int)]
    return {k: _listify(v, k) for k, v in node.items()}


def as_int(params: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(f"Invalid integer: {raw}", param=name) from None
    if minimum is not None and value < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param=name)
    return value


def as_bool(params: dict[str, Any], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", param=name)
    return bool(raw == "true")


def as_str_dict(params: dict[str, Any], name: str) -> dict[str, str]:
    raw = params.get(name, {})
    if raw == "":  # `metadata=` clears it
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid(f"Invalid object: {name} must be a hash of strings.", param=name)
    return dict(raw)


def as_list(params: dict[str, Any], name: str) -> list[Any]:
    raw = params.get(name, [])
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        raise invalid(f"Invalid array: {name}", param=name)
    return raw


def list_object(data: list[dict[str, Any]], *, url: str, has_more: bool = False) -> dict[str, Any]:
    """A Stripe list. The SDK fetches the next page from `url`, so it must be there."""
    return {"object": "list", "url": url, "has_more": has_more, "data": data}
