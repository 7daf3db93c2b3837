import orjson
import pytest

from gateway.errors import RateLimited, UpstreamBadRequest, UpstreamError, UpstreamTimeout
from gateway.services.call.upstream_errors import error_for_status, upstream_message


def test_a_400_keeps_the_upstreams_message() -> None:
    error = error_for_status(400, b'{"error":{"message":"context length exceeded"}}', None)
    assert isinstance(error, UpstreamBadRequest)
    assert error.status == 400 and error.message == "context length exceeded"


@pytest.mark.parametrize("status", [401, 402, 403])
def test_the_resellers_own_problems_are_a_502(status: int) -> None:
    error = error_for_status(status, b'{"error":{"message":"Incorrect API key sk-abc123456"}}', None)
    assert isinstance(error, UpstreamError) and error.status == 502
    assert "sk-abc" not in error.message


def test_429_keeps_retry_after_and_5xx_and_timeouts() -> None:
    limited = error_for_status(429, b"", "12")
    assert isinstance(limited, RateLimited) and limited.headers["retry-after"] == "12"
    assert error_for_status(503, b"", None).status == 502
    assert isinstance(error_for_status(504, b"", None), UpstreamTimeout)


def test_secret_looking_strings_are_redacted() -> None:
    assert upstream_message(b'{"error":{"message":"bad key sk-or-v1-abcdef123 here"}}') == "bad key [redacted] here"


@pytest.mark.parametrize("status", [400, 422])
def test_a_refusal_keeps_the_upstreams_code_param_and_type(status: int) -> None:
    body = (
        b'{"error":{"message":"too long","type":"invalid_request_error",'
        b'"code":"context_length_exceeded","param":"messages"}}'
    )
    error = error_for_status(status, body, None)
    assert error.status == 400
    rendered = orjson.loads(error.body())["error"]
    assert rendered == {
        "message": "too long",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
        "param": "messages",
    }


def test_a_refusal_without_usable_fields_falls_back_to_ours() -> None:
    body = b'{"error":{"message":"no","type":["x"],"code":400,"param":7}}'
    rendered = orjson.loads(error_for_status(400, body, None).body())["error"]
    assert (rendered["type"], rendered["code"], rendered["param"]) == ("invalid_request_error", "invalid_request", None)
    rendered = orjson.loads(error_for_status(400, b'{"error":{"message":"no","param":null}}', None).body())["error"]
    assert (rendered["code"], rendered["param"]) == ("invalid_request", None)


def test_the_upstreams_fields_are_scrubbed_and_capped() -> None:
    body = orjson.dumps(
        {"error": {"message": "no", "type": "t" * 500, "code": "leaked sk-abcdef123456", "param": "key-abcdefgh"}}
    )
    rendered = orjson.loads(error_for_status(400, body, None).body())["error"]
    assert rendered["type"] == "t" * 100
    assert rendered["code"] == "leaked [redacted]"
    assert rendered["param"] == "[redacted]"


def test_only_refusals_keep_the_upstreams_code() -> None:
    body = b'{"error":{"message":"no","type":"server_error","code":"overloaded","param":null}}'
    rendered = orjson.loads(error_for_status(503, body, None).body())["error"]
    assert (rendered["type"], rendered["code"]) == ("api_error", "upstream_error")


def test_a_secret_glued_to_a_word_is_scrubbed_too() -> None:
    body = b'{"error": {"message": "bad_sk-abcdef123456 and key_ABCDEFGH were refused"}}'
    assert upstream_message(body) == "bad_[redacted] and [redacted] were refused"
