from gateway.services.sse import SseSplitter, data_of


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
