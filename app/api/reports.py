"""``/reports/…`` and ``/audit``: what auditors read (role ``auditor`` or ``admin``; read-only).

Every list answers in JSON, a page at a time with a cursor (``nextCursor``), or
in CSV (``Accept: text/csv`` or ``?format=csv``), streamed whole.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, ClassVar

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, QueryParameter
from litestar.response import Stream

from app.api.auth import require, tenant_of
from app.api.media import json_response
from app.api.services import services
from app.domain.actor import Actor, Permission
from app.reports import params, views
from app.reports.service import Listing

AnyRequest = Request[Any, Any, Any]
Text = Annotated[str | None, Parameter(required=False)]
Cursor = Annotated[
    str | None, Parameter(required=False, description="nextCursor of the previous page")
]
Count = Annotated[
    str | None, Parameter(required=False, description="items per page (1–1000, default 100)")
]
Format = Annotated[
    str | None,
    QueryParameter(name="format", required=False, description="json (default) or csv (streamed)"),
]
_FORMULA = frozenset("=+-@\t\r")


def _safe(line: list[Any]) -> list[Any]:
    """Text cells a spreadsheet would run as a formula are quoted (CSV injection)."""
    return ["'" + c if c.__class__ is str and c and c[0] in _FORMULA else c for c in line]


async def _csv(listing: Listing) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(listing.columns)
    async for lines in listing.lines():
        writer.writerows(map(_safe, lines))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode()


async def answer(
    request: AnyRequest,
    listing: Listing,
    name: str,
    fmt: str | None,
    cursor: str | None,
    count: str | None,
) -> Response[Any]:
    """The listing as one JSON page with its cursor, or as a CSV stream of every row."""
    if params.wants_csv(fmt, request.headers.get("accept")):
        return Stream(
            _csv(listing),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )
    items, next_cursor = await listing.page(cursor, params.count(count))
    return json_response({"items": items, "itemsPerPage": len(items), "nextCursor": next_cursor})


def _reader(actor: Actor) -> str:
    require(actor, Permission.READ_AUDIT)
    return tenant_of(actor)


class ReportsController(Controller):
    path = "/reports"
    tags: ClassVar[list[str]] = ["Reports"]

    @get("/ownership", summary="Who owns which non-human identity")
    async def ownership(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        owner: Annotated[str | None, Parameter(required=False, description="a User or Group id")],
        relation: Annotated[
            str | None, Parameter(required=False, description="owner (default), sponsor or any")
        ],
        kind: Annotated[
            str | None, Parameter(required=False, description="agent, service_account, …")
        ],
        lifecycle_state: Annotated[
            str | None,
            QueryParameter(
                name="state",
                required=False,
                description="staged, active, suspended, deprovisioned",
            ),
        ],
        environment: Text,
        cursor: Cursor,
        count: Count,
        fmt: Format,
    ) -> Response[Any]:
        """Per owner (User or Group; inactive and deleted owners included) the identities it
        answers for, tombstones included: kind, purpose, scopes, environment, end, state."""
        tenant = _reader(actor)
        listing = services(request).reports.ownership(
            tenant,
            owner=owner,
            relation=params.one_of(relation, params.RELATIONS, "relation") or "owner",
            kind=kind,
            state=params.one_of(lifecycle_state, params.STATES, "state"),
            environment=environment,
        )
        return await answer(request, listing, "ownership", fmt, cursor, count)

    @get("/expiring", summary="What expires within a window, soonest first")
    async def expiring(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        within: Annotated[
            str | None,
            Parameter(required=False, description="ISO 8601 duration, default P30D"),
        ],
        cursor: Cursor,
        count: Count,
        fmt: Format,
    ) -> Response[Any]:
        """Active identities ending within the window, with their owners and whether (and
        when) they were warned about this end."""
        tenant = _reader(actor)
        span = params.duration(within or "P30D")
        listing = services(request).reports.expiring(tenant, span)
        return await answer(request, listing, "expiring", fmt, cursor, count)

    @get("/orphans", summary="Identities with no active owner")
    async def orphans(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        cursor: Cursor,
        count: Count,
        fmt: Format,
    ) -> Response[Any]:
        """Live identities none of whose owners is active: since when, what the scheduler does
        next (suspend, teardown, or review when nothing is planned) and when."""
        listing = services(request).reports.orphans(_reader(actor))
        return await answer(request, listing, "orphans", fmt, cursor, count)

    @get("/summary", summary="Counts for an auditor's overview")
    async def summary(
        self, request: AnyRequest, actor: NamedDependency[Actor], fmt: Format
    ) -> Response[Any]:
        """Counts by type, kind, state and environment; identities without an end or ending
        later than the tenant's maximum lifetime allows; denials of the last 30 days by
        policy; the scheduler's suspensions and teardowns by reason."""
        found = await services(request).reports.summary(_reader(actor))
        if not params.wants_csv(fmt, request.headers.get("accept")):
            return json_response(found)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(views.SUMMARY)
        writer.writerows(map(_safe, views.summary_cells(found)))
        return Response(
            content=buffer.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="summary.csv"'},
        )

    @get("/identities/{resource_id:str}/history", summary="An identity's whole audit history")
    async def history(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        resource_id: FromPath[str],
        cursor: Cursor,
        count: Count,
        fmt: Format,
    ) -> Response[Any]:
        """Every audit event about the identity, oldest first, its teardown included (also
        after SCIM answers 404 for it)."""
        listing = await services(request).reports.history(_reader(actor), resource_id)
        return await answer(request, listing, "history", fmt, cursor, count)


class AuditController(Controller):
    path = "/audit"
    tags: ClassVar[list[str]] = ["Audit"]

    @get("/", summary="The audit log, newest first")
    async def events(
        self,
        request: AnyRequest,
        actor: NamedDependency[Actor],
        since: Annotated[str | None, Parameter(required=False, description="RFC 3339, inclusive")],
        until: Annotated[str | None, Parameter(required=False, description="RFC 3339, exclusive")],
        actor_filter: Annotated[
            str | None,
            QueryParameter(name="actor", required=False, description="a token id or actor name"),
        ],
        action: Annotated[
            str | None,
            Parameter(required=False, description="create, update, extend, suspend, teardown, …"),
        ],
        resource_type: Annotated[str | None, QueryParameter(name="resourceType", required=False)],
        resource_id: Annotated[str | None, QueryParameter(name="resourceId", required=False)],
        decision: Annotated[str | None, Parameter(required=False, description="allow or deny")],
        policy_id: Annotated[str | None, QueryParameter(name="policyId", required=False)],
        cursor: Cursor,
        count: Count,
        fmt: Format,
    ) -> Response[Any]:
        """One event per mutation attempt, allowed or denied, with the deciding policies, the
        changed attributes' before and after values, and the event's place in the hash chain."""
        tenant = _reader(actor)
        given = {
            "since": since,
            "until": until,
            "actor": actor_filter,
            "action": action,
            "resourcetype": resource_type,
            "resourceid": resource_id,
            "decision": decision,
            "policyid": policy_id,
        }
        where = params.audit_filter({k: v for k, v in given.items() if v is not None})
        listing = await services(request).reports.audit(tenant, where)
        return await answer(request, listing, "audit", fmt, cursor, count)

    @get("/verify", summary="Walk the hash chain")
    async def verify(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[Any]:
        """``ok``, or the first sequence number that does not verify and why."""
        result = await services(request).audit.verify(_reader(actor))
        return json_response(
            {
                "ok": result.ok,
                "events": result.events,
                "firstSeq": result.first_seq,
                "lastSeq": result.last_seq,
                "brokenAt": result.broken_at,
                "problem": result.problem,
                "pending": result.pending,
            }
        )
