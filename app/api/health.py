"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from app.api.services import services


def _json(content: dict[str, Any], status: int) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(content), status_code=status, media_type="application/json"
    )


@get("/healthz", include_in_schema=True)
async def healthz() -> Response[bytes]:
    """The process is up and serving."""
    return _json({"status": "ok"}, 200)


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The database answers and carries the newest migration; 503 otherwise."""
    ready, detail = await services(request).db.ready()
    return _json(
        {"status": "ok" if ready else "unavailable", "detail": detail}, 200 if ready else 503
    )
