"""The only place that writes RFC 7644 §3.12 Error bodies."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from app.api.media import scim_response
from app.scim.errors import ScimError, Unavailable
from app.scim.schema import ERROR_URN

log = logging.getLogger("tenure.api")

_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tenure"'}


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response[bytes]:
    headers = _BEARER_CHALLENGE if status == 401 else None
    return scim_response(error_body(status, detail, scim_type), status, headers)


def on_scim_error(_request: Request[Any, Any, Any], exc: ScimError) -> Response[bytes]:
    response = error_response(exc.status, exc.detail, exc.scim_type)
    if isinstance(exc, Unavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def on_http_error(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Routing and framework errors (unknown path, wrong method, body too large) in SCIM form."""
    status = exc.status_code
    detail = {
        404: "no such endpoint",
        405: "method not allowed on this endpoint",
        413: "request body exceeds the maximum payload size",
    }.get(status, exc.detail or "request failed")
    response = error_response(status, detail)
    if status == 405 and exc.headers:
        response.headers.update(exc.headers)
    return response


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal server error; the request id in the logs has details")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ScimError: on_scim_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
