"""Domain errors. Each carries a stable code; api/errors.py alone maps codes to HTTP."""

from __future__ import annotations


class RoostError(Exception):
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(RoostError):
    code = "invalid_request"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class NotFound(RoostError):
    code = "not_found"


class ModelNotFound(NotFound):
    """A request named a model that is not configured."""

    code = "model_not_found"


class Unauthorized(RoostError):
    code = "unauthorized"


class Forbidden(RoostError):
    code = "forbidden"


class Conflict(RoostError):
    code = "conflict"


class PayloadTooLarge(RoostError):
    code = "payload_too_large"


class RateLimited(RoostError):
    """Too much at once for this caller, e.g. a full inbox; retry later."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, sent as Retry-After


class ProviderError(RoostError):
    """The model runtime failed: refused, errored, timed out or was cut off."""

    code = "provider_error"


class Unavailable(RoostError):
    """A dependency (database, disk, a model that does not fit in memory) is temporarily
    unusable."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, sent as Retry-After


class ConfigError(RoostError):
    """Settings that cannot be used; the message names the key and the file."""

    code = "config_error"


def from_code(code: str, message: str, retry_after: int | None = None) -> RoostError:
    """Rebuild a domain error from its code, e.g. a failed turn reported as an event."""
    if code == RateLimited.code:
        return RateLimited(message, retry_after)
    if code == Unavailable.code:
        return Unavailable(message, retry_after)
    for cls in (
        InvalidRequest,
        NotFound,
        ModelNotFound,
        Unauthorized,
        Forbidden,
        Conflict,
        PayloadTooLarge,
        RateLimited,
        ProviderError,
        Unavailable,
    ):
        if cls.code == code:
            return cls(message)
    return RoostError(message)
