"""Typed refusals. Each one crosses the wire as an error frame or a JSON error with its code."""

from __future__ import annotations


class ConveneError(Exception):
    """Base of every refusal a client can be told about."""

    code = "error"
    http_status = 400
    retryable = False

    def __init__(self, message: str = "", *, field: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ")
        self.field = field
        self.retry_after = retry_after

    def payload(self) -> dict:
        data: dict = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        if self.retry_after is not None:
            data["retry_after"] = round(self.retry_after, 3)
        if self.retryable:
            data["retryable"] = True
        return data


class BadRequest(ConveneError):
    code = "bad_request"
    http_status = 422


class Unauthenticated(ConveneError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(ConveneError):
    code = "forbidden"
    http_status = 403


class NotFound(ConveneError):
    code = "not_found"
    http_status = 404


class Conflict(ConveneError):
    code = "conflict"
    http_status = 409


class RateLimited(ConveneError):
    code = "rate_limited"
    http_status = 429
    retryable = True


class SlowMode(RateLimited):
    """A room in slow mode takes one message per member every N seconds; retry_after says when."""

    code = "slow_mode"


class StoreUnavailable(ConveneError):
    """The database could not be reached; nothing was stored, the client may retry."""

    code = "store_unavailable"
    http_status = 503
    retryable = True


class TooLarge(ConveneError):
    """A file or request body past its size limit."""

    code = "too_large"
    http_status = 413


class QuotaExceeded(ConveneError):
    """The member's storage quota would be exceeded (413 like a file too large, but its own code: it is
    the member's total that is too large, and deleting old files frees room)."""

    code = "quota_exceeded"
    http_status = 413


class UnsupportedMedia(ConveneError):
    """A file whose content (not its name or declared type) is not on the allow-list."""

    code = "unsupported_media_type"
    http_status = 415


class DisallowedCharacters(BadRequest):
    """Text the service does not store, the same on every backend (rooms/text_rules.py): NUL anywhere, and
    invisible, control or direction-changing characters in names."""

    code = "disallowed_characters"
