"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from app.api.media import json_response
from app.api.services import services


@get("/healthz", include_in_schema=True)
async def healthz() -> Response[bytes]:
    """The process is up and serving."""
    return json_response({"status": "ok"}, 200)


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The database answers and carries the newest migration; 503 otherwise."""
    ready, detail = await services(request).db.ready()
    return json_response(
        {"status": "ok" if ready else "unavailable", "detail": detail}, 200 if ready else 503
    )
