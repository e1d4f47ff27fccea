"""SCIM media type (RFC 7644 §3.1, §8.1): application/scim+json out, JSON in."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from app.scim.codec import decode_json
from app.scim.errors import InvalidValue, UnsupportedMediaType

SCIM_MEDIA_TYPE = "application/scim+json"
_ACCEPTED = {"application/scim+json", "application/json"}


def scim_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    body = b"" if content is None else msgspec.json.encode(content)
    return Response(
        content=body,
        status_code=status,
        media_type=SCIM_MEDIA_TYPE + "; charset=utf-8" if content is not None else None,
        headers=headers,
    )


def json_response(content: Any, status: int = 200) -> Response[bytes]:
    """Plain JSON, for the endpoints that are not SCIM (admin, health)."""
    return Response(
        content=msgspec.json.encode(content), status_code=status, media_type="application/json"
    )


async def read_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The request body as a JSON object; 415 for a declared non-JSON type, 400 if not JSON."""
    content_type = request.headers.get("content-type")
    if content_type:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in _ACCEPTED:
            raise UnsupportedMediaType(
                f"Content-Type {media_type} is not accepted; send {SCIM_MEDIA_TYPE}"
            )
    return decode_json(await request.body())


def lower_query(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Query parameters by lower-cased name: clients spell ``startIndex`` every way."""
    return {key.lower(): value for key, value in request.query_params.items()}


async def read_struct(request: Request[Any, Any, Any], shape: type[Any]) -> Any:
    """A JSON body read into ``shape``; a 400 ``invalidValue`` saying what does not fit."""
    try:
        return msgspec.convert(await read_json(request), shape)
    except msgspec.ValidationError as exc:
        raise InvalidValue(str(exc)) from None
