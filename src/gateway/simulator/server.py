"""The simulator as a real HTTP server (aiohttp), for demos, benchmarks and tests."""

from __future__ import annotations

import asyncio
import itertools
import time

import orjson
from aiohttp import web

from gateway.simulator import engine

_counter = itertools.count(1)
TOKEN_DELAY = web.AppKey("token_delay", float)


PRICES = web.AppKey("prices", dict)


async def _models(request: web.Request) -> web.Response:
    catalog = engine.catalog()
    for entry in catalog["data"]:
        entry.update(request.app[PRICES].get(entry["id"], {}))
    return web.json_response(catalog, dumps=lambda o: orjson.dumps(o).decode())


async def _set_price(request: web.Request) -> web.Response:
    """Demo and test control: change a model's published price (`{"model", "pricing"}`)."""
    body = orjson.loads(await request.read())
    request.app[PRICES][str(body["model"])] = {"pricing": body["pricing"]}
    return web.json_response({"ok": True})


async def _chat(request: web.Request) -> web.StreamResponse:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return web.json_response({"error": {"message": "invalid JSON"}}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": {"message": "expected an object"}}, status=400)
    answer = engine.answer(body, completion_id=f"chatcmpl-sim{next(_counter)}", created=int(time.time()))
    if answer.hang:
        await asyncio.sleep(3600)
    delay = request.app[TOKEN_DELAY]
    if not answer.stream:
        if delay and answer.tokens:
            await asyncio.sleep(delay * answer.tokens)  # a whole answer takes as long as its tokens
        if answer.cut_after is not None:
            _abort(request)
        return web.Response(
            body=answer.body, status=answer.status, content_type="application/json", headers=answer.headers
        )
    response = web.StreamResponse(
        status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    for position, event in enumerate(answer.events):
        if position == answer.cut_after:
            _abort(request)
            return response
        if position == answer.stall_after:
            await asyncio.sleep(3600)
        await response.write(b"data: " + event + b"\n\n")
        if delay:
            await asyncio.sleep(delay)
    await response.write_eof()
    return response


def _abort(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()
    raise ConnectionResetError("simulated connection cut")


def create_app(*, token_delay: float = 0.0) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[TOKEN_DELAY] = token_delay
    app[PRICES] = {}
    app.router.add_post("/_simulator/prices", _set_price)
    for prefix in ("", "/v1"):
        app.router.add_get(f"{prefix}/models", _models)
        app.router.add_post(f"{prefix}/chat/completions", _chat)
    return app
