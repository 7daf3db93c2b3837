import pytest

from gateway.errors import RateLimited, UpstreamBadRequest, UpstreamError, UpstreamTimeout
from gateway.services.upstream_errors import error_for_status, upstream_message


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
