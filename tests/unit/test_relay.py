"""The relay's pass-through of content events: the quick path for the usual one-line event
gives the same bytes as reading the event's data, hiding its `"usage": null` and writing it
back (`sse`), and content passed through is still counted if the usage must be estimated."""

from __future__ import annotations

import types

import pytest

from gateway.errors import InternalError, UpstreamError
from gateway.services.call.relay import _Relay
from gateway.services.call.sse import data_of, error_event, with_data, without_null_usage

CHUNK = b'{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]'


def _relay(*, wants_usage: bool) -> _Relay:
    request = types.SimpleNamespace(wants_usage=wants_usage, n=1)
    return _Relay(types.SimpleNamespace(request=request, ended=False))  # type: ignore[arg-type]


def _sent(relay: _Relay, event: bytes) -> bytes:
    step = relay.on_event(event)
    try:
        step.send(None)
    except StopIteration as done:
        result: bytes = done.value
        return result
    raise AssertionError("a content event waits on nothing")


@pytest.mark.parametrize(
    "event",
    [
        b"data: " + CHUNK + b',"usage":null}',
        b"data: " + CHUNK + b', "usage": null}',
        b'data: {"usage":null,' + CHUNK[1:] + b"}",
        b'data: {"usage": null, "id":"c1","choices":[]}',
        b'data: {"c":"x\\",\\"usage\\":null,\\"y","usage":null}',  # the text in a string stays
        b'data: {"c":"he said \\"usage","usage":null}',
        b"data: " + CHUNK + b"}",
        b"data:" + CHUNK + b',"usage":null}',
        b"data:  " + CHUNK + b',"usage":null}',
        b"event: chunk\ndata: " + CHUNK + b',"usage":null}',
        b"data: " + CHUNK + b',\ndata: "usage":null}',
        b": keep-alive",
    ],
)
def test_content_events_go_out_as_the_general_path_writes_them(event: bytes) -> None:
    payload = data_of(event)
    assert payload is not None or event.startswith(b":")
    bare = without_null_usage(payload) if payload is not None else None
    hidden = event if bare is None or bare == payload else with_data(event, bare)
    assert _sent(_relay(wants_usage=False), event) == hidden + b"\n\n"
    assert _sent(_relay(wants_usage=True), event) == event + b"\n\n"


def test_content_passed_through_is_counted_when_usage_must_be_estimated() -> None:
    relay = _relay(wants_usage=False)
    for text in ("Hello", " there", " friend"):
        content = f'{{"choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}],"usage":null}}'
        _sent(relay, b"data: " + content.encode())
    _sent(relay, b'event: x\ndata: {"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}]}')
    # max(4 chunks with text, ⌈19 bytes of text / 4⌉); and the one choice got its finish_reason
    assert relay.delivered_tokens() == 5
    assert relay._all_choices_finished()


def test_an_error_event_is_the_errors_body_as_data() -> None:
    expected = b'data: {"error":{"message":"cut","type":"api_error","code":"upstream_error","param":null}}\n\n'
    assert error_event(UpstreamError("cut")) == expected
    assert error_event(InternalError()) == b"data: " + InternalError().body() + b"\n\n"
