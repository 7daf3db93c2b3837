"""`/openapi.json` tells client generators the truth: every operation's answer has a schema,
every error status it can return is declared (in the OpenAI error shape), and no 422 — the
gateway answers a request it cannot read with a 400."""

from __future__ import annotations

import re
from typing import Any

from tests.support import ADMIN, Gateway, bearer

ERROR_REF = "#/components/schemas/ErrorBody"


async def description(gateway: Gateway) -> dict[str, Any]:
    response = await gateway.client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


async def test_every_operation_declares_its_answer_and_its_errors(gateway: Gateway) -> None:
    schema = await description(gateway)
    assert len(operations(schema)) >= 37
    for path, method, op in operations(schema):
        responses = op["responses"]
        where = f"{method.upper()} {path}"
        assert "422" not in responses, where
        successes = [status for status in responses if status.startswith("2")]
        assert len(successes) == 1, where
        answer = responses[successes[0]]["content"]["application/json"]["schema"]
        assert answer.get("$ref") or answer.get("anyOf") or answer.get("properties"), where
        errors = {status: r for status, r in responses.items() if not status.startswith("2")}
        assert {"400", "500"} <= set(errors), where
        for status, declared in errors.items():
            assert declared["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (where, status)
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components and "ValidationError" not in components
    assert set(components["ErrorBody"]["properties"]) == {"error"}


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "no-such-thing", path.replace("{model_id}", "no/such-model"))


async def test_every_answer_is_one_the_description_declares(gateway: Gateway) -> None:
    """Each operation, asked without a key, with a customer's or an admin's key, and with
    bodies it cannot use, answers only statuses it declares."""
    schema = await description(gateway)
    account = await gateway.customer("1")
    callers = [{}, bearer(account["api_key"]), ADMIN]
    bodies: list[Any] = [None, {}, {"unexpected": 1}, [1, 2], "not json"]
    seen = 0
    for path, method, op in operations(schema):
        declared = set(op["responses"])
        for headers in callers:
            for body in bodies if method in ("post", "put", "delete") else [None]:
                kwargs: dict[str, Any] = {"headers": headers}
                if isinstance(body, str):
                    kwargs["content"] = body
                    kwargs["headers"] = {**headers, "content-type": "application/json"}
                elif body is not None:
                    kwargs["json"] = body
                response = await gateway.client.request(method.upper(), _url(path), **kwargs)
                assert str(response.status_code) in declared, (method, path, headers, body, response.text)
                seen += 1
    assert seen > 150
    assert (await gateway.balance(account["api_key"]))["status"] == "active"  # nothing destructive ran
