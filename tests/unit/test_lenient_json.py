import orjson
import pytest

from gateway.services.call.lenient_json import loads, loads_object


def test_standard_json_is_read_by_orjson() -> None:
    assert loads(b'{"a":[1,2.5,"x"]}') == {"a": [1, 2.5, "x"]}


def test_non_finite_constants_are_read_and_written_back_as_sent() -> None:
    raw = b'{"logprobs":[NaN,-Infinity,Infinity,-0.5],"text":"\xc3\xa9"}'
    document = loads(raw)
    assert document["logprobs"][3] == -0.5
    assert orjson.dumps(document) == raw


@pytest.mark.parametrize("raw", [b"<html>", b'{"a":NaN', b'"\\ud800"', b'[NaN,"\\ud800"]'])
def test_what_cannot_be_relayed_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        loads(raw)


def test_loads_object() -> None:
    assert loads_object(b'{"a":NaN}') is not None
    assert loads_object(b"[1]") is None
    assert loads_object(b"nope") is None
