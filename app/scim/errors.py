"""The SCIM error tree (RFC 7644 §3.12, Table 9).

Each subclass carries its HTTP ``status`` and ``scim_type`` as class
attributes; ``app/api/errors.py`` alone turns them into Error bodies.
"""

from __future__ import annotations


class ScimError(Exception):
    status: int = 400
    scim_type: str | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# 400 with a scimType (RFC 7644 Table 9)
class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Sensitive(ScimError):
    scim_type = "sensitive"


# RFC 9865 §2.1 (cursor pagination)
class InvalidCursor(ScimError):
    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    scim_type = "invalidCount"


# Statuses without a scimType (RFC 7644 §3.12)
class Unauthorized(ScimError):
    status = 401


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    status = 404


class Conflict(ScimError):
    status = 409


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class UnsupportedMediaType(ScimError):
    status = 415


class Unavailable(ScimError):
    """503 (RFC 7231 §6.6.4): too busy to take the request now; ``Retry-After`` says when."""

    status = 503
    retry_after = 1  # seconds
