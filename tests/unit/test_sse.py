import orjson
import pytest

from gateway.services.call.sse import SseSplitter, data_of, with_data, without_null_usage


def test_events_split_across_chunks_and_crlf() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b'data: {"a"') == []
    assert splitter.feed(b":1}\n\ndata: [DO") == [b'data: {"a":1}']
    assert splitter.feed(b"NE]\r") == []
    assert splitter.feed(b"\n\r\n") == [b"data: [DONE]"]
    assert splitter.rest() == b""


def test_data_of() -> None:
    assert data_of(b"data: [DONE]") == b"[DONE]"
    assert data_of(b"data:{}") == b"{}"
    assert data_of(b": keep-alive") is None
    assert data_of(b"event: x\ndata: 1\ndata: 2") == b"1\n2"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"usage":null}', b"{}"),
        (b'{ "usage" : null }', b"{}"),
        (b'{"usage":null,"id":"a"}', b'{"id":"a"}'),
        (b'{"id":"a","usage":null}', b'{"id":"a"}'),
        (b'{"id":"a", "usage": null ,"choices":[]}', b'{"id":"a","choices":[]}'),
        (b'{"usage": null, "id":"a"}', b'{"id":"a"}'),
        (b'{"a":1, "usage":null, "b":2}', b'{"a":1, "b":2}'),
        (b'{"id":"a",\n"usage":\nnull\n}', b'{"id":"a"}'),
        (b'{"usage":{"prompt_tokens":1}}', b'{"usage":{"prompt_tokens":1}}'),
        (b'{"c":"x\\",\\"usage\\":null,\\"y"}', b'{"c":"x\\",\\"usage\\":null,\\"y"}'),
        (b'{"c":"he said \\"usage","usage":null}', b'{"c":"he said \\"usage"}'),
    ],
)
def test_without_null_usage(payload: bytes, expected: bytes) -> None:
    assert without_null_usage(payload) == expected
    orjson.loads(expected)


def test_with_data_keeps_the_events_other_lines() -> None:
    assert with_data(b"data: {}", b"[1]") == b"data: [1]"
    event = b"event: chunk\nid: 7\ndata: {\ndata: }\n: note\nretry: 5"
    assert with_data(event, b"{}") == b"event: chunk\nid: 7\ndata: {}\n: note\nretry: 5"
    assert with_data(b"id: 7\ndata: 1", b"{\n}") == b"id: 7\ndata: {\ndata: }"
