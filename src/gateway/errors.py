"""The one error family: each error knows its HTTP status and OpenAI-shaped body.

Errors are raised where the rule lives and rendered once (`render`), by the FastAPI
handlers and by the raw chat handler alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import orjson


class GatewayError(Exception):
    status: ClassVar[int] = 500
    # Not ClassVars: an instance may carry another's type and code (an upstream's refusal).
    type: str = "server_error"
    code: str = "internal_error"
    default_message: ClassVar[str] = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.type, "code": self.code, "param": self.param}
        return orjson.dumps({"error": error})


# 400 ------------------------------------------------------------------------------------


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"
    default_message = "invalid request"


class InvalidJson(InvalidRequest):
    code = "invalid_json"
    default_message = "the request body is not valid JSON"


class ModelNotFound(InvalidRequest):
    code = "model_not_found"


class UpstreamBadRequest(InvalidRequest):
    """The upstream refused the request itself (e.g. context too long). Its message, and its
    type, code and param when given, are kept: SDKs and frameworks act on `code`
    (`context_length_exceeded`)."""

    def __init__(
        self, message: str, *, error_type: str | None = None, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message, param=param)
        if error_type is not None:
            self.type = error_type
        if code is not None:
            self.code = code


# 401 ------------------------------------------------------------------------------------


class InvalidApiKey(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"
    default_message = "invalid API key"


class ExpiredApiKey(InvalidApiKey):
    code = "expired_api_key"
    default_message = "this API key has expired"


class InactiveApiKey(InvalidApiKey):
    code = "inactive_api_key"
    default_message = "this API key is not active"


class InvalidCronSecret(InvalidApiKey):
    code = "invalid_cron_secret"
    default_message = "the cron routes need 'Authorization: Bearer <CRON_SECRET>' (what Vercel Cron sends)"


# 402 ------------------------------------------------------------------------------------


class InsufficientCredits(GatewayError):
    status = 402
    type = "insufficient_quota"
    code = "insufficient_credits"
    default_message = "insufficient credits"

    def __init__(self, message: str | None = None, *, param: str | None = None) -> None:
        # Waiting does not cure a 402: tell SDKs not to retry.
        super().__init__(message, param=param, headers={"x-should-retry": "false"})


# 403 ------------------------------------------------------------------------------------


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    code = "forbidden"


class AdminRequired(Forbidden):
    code = "admin_required"
    default_message = "this route needs an admin key"


# 404 / 405 / 409 / 413 ------------------------------------------------------------------


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"
    default_message = "not found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"
    default_message = "method not allowed"


class AlreadyExists(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "already_exists"
    default_message = "already exists"


class ReferenceConflict(AlreadyExists):
    code = "reference_conflict"
    default_message = "this reference was already used for a different operation"


class RequestTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"
    default_message = "the request body is too large"


# 429 ------------------------------------------------------------------------------------


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    default_message = "rate limit exceeded"

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, headers={"retry-after": str(max(1, retry_after))})


# 5xx ------------------------------------------------------------------------------------


class UpstreamError(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_error"
    default_message = "the upstream provider failed; nothing was charged"


class ServiceUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "service_unavailable"
    default_message = "service unavailable"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"
    default_message = "the upstream provider did not answer in time; nothing was charged"


class InternalError(GatewayError):
    """Anything unexpected: the client learns nothing of the cause."""


_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: InvalidApiKey,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: AlreadyExists,
    413: RequestTooLarge,
    502: UpstreamError,
    503: ServiceUnavailable,
    504: UpstreamTimeout,
}


def from_status(status: int, message: str | None = None) -> GatewayError:
    """The error for an HTTP status raised by the framework itself (unknown route, ...)."""
    if status == 429:
        return RateLimited(message, retry_after=1)
    error_class = _BY_STATUS.get(status)
    if error_class is None:
        return InternalError(message) if status >= 500 else InvalidRequest(message)
    return error_class(message)
