"""``POST /Bulk`` (RFC 7644 §3.7): a BulkRequest in, a BulkResponse out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from app.api.errors import error_body
from app.api.media import read_json, scim_response
from app.api.services import scim_base_url, services
from app.domain.actor import Actor
from app.provisioning.bulk import BULK_RESPONSE_URN, Outcome


def _entry(outcome: Outcome, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"method": outcome.method}
    if outcome.bulk_id is not None:
        entry["bulkId"] = outcome.bulk_id
    if outcome.version is not None:
        entry["version"] = outcome.version
    if outcome.resource_type is not None and outcome.resource_id is not None:
        entry["location"] = f"{base}{outcome.resource_type.endpoint}/{outcome.resource_id}"
    entry["status"] = str(outcome.status)
    if outcome.error is not None:
        entry["response"] = error_body(
            outcome.error.status, outcome.error.detail, outcome.error.scim_type
        )
    return entry


class BulkController(Controller):
    path = "/scim/v2"

    @post("/Bulk", status_code=200)
    async def bulk(
        self, request: Request[Any, Any, Any], actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        # Each operation is decided by Cedar in the pipeline, like a single request.
        outcomes = await services(request).bulk.run(actor, await read_json(request))
        base = scim_base_url(request)
        return scim_response(
            {"schemas": [BULK_RESPONSE_URN], "Operations": [_entry(o, base) for o in outcomes]}
        )
