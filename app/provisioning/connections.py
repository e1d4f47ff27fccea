"""How a tenant's clients are doing: the requests each token made lately, and a self-test.

Requests are noted in memory as they finish and written in batches, about
once a second, off the request path (a SCIM GET stays a read). Onboarding
waits on the log for the identity provider's first successful request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from typing import Any

from app.domain.actor import Actor, Role
from app.domain.clock import Clock
from app.domain.connections import Check, Seen
from app.domain.tenancy import Token
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.mutation import Provisioning
from app.scim.errors import NotFound, ScimError
from app.store.uow import Database

log = logging.getLogger("tenure.connections")
_KEEP = dt.timedelta(days=7)
# Rows per retention batch: each is a short transaction of its own (on SQLite, on the
# event loop), so a week of a busy server's requests never stalls the requests of now.
_PRUNE_BATCH = 2_000
_SELF_TEST_USER = "tenure-self-test@example.invalid"


class Connections:
    def __init__(self, db: Database, clock: Clock, provisioning: Provisioning) -> None:
        self._db = db
        self._clock = clock
        self._provisioning = provisioning
        # Bounded: if the database stalls, the oldest notes go, never the server's memory.
        self._pending: collections.deque[Seen] = collections.deque(maxlen=10_000)
        self._pruned: dt.datetime | None = None

    def note(self, seen: Seen) -> None:
        self._pending.append(seen)

    async def flush(self) -> int:
        """Write what was noted; prune what is older than a week (every ten minutes)."""
        batch = []
        while self._pending:
            batch.append(self._pending.popleft())
        now = self._clock.now()
        prune = self._pruned is None or now - self._pruned > dt.timedelta(minutes=10)
        if not batch and not prune:
            return 0
        if batch:
            async with self._db.uow(write=True) as uow:
                await uow.requests.record(batch)
                await uow.commit()
        if prune:
            await self._prune(now - _KEEP)
            self._pruned = now
        return len(batch)

    async def _prune(self, before: dt.datetime) -> None:
        while True:
            async with self._db.uow(write=True) as uow:
                gone = await uow.requests.prune(before, _PRUNE_BATCH)
                await uow.commit()
            if gone < _PRUNE_BATCH:
                return
            await asyncio.sleep(0)  # let the requests waiting meanwhile go first

    async def run(self, every: float = 1.0) -> None:
        """Flush forever (a task the app starts and cancels)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.flush()
            except Exception:  # the log is a convenience; it must never take the server down
                log.exception("request log not written")

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()

    async def report(self, tenant_id: str, *, limit: int = 20) -> dict[str, Any]:
        """Per token: its last requests and its last errors (with their SCIM detail)."""
        await self.flush()
        async with self._db.uow() as uow:
            if await uow.tenants.get(tenant_id) is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            tokens = await uow.tokens.of_tenant(tenant_id)
            out = []
            for token in tokens:
                recent = await uow.requests.recent(tenant_id, token.id, limit=limit)
                errors = await uow.requests.recent(tenant_id, token.id, limit=limit, errors=True)
                out.append((token, recent, errors))
        checks = await self.self_test(tenant_id)
        return {
            "tokens": [_token_view(t, r, e, self._clock.now()) for t, r, e in out],
            "selfTest": {
                "ok": all(c.ok for c in checks),
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            },
        }

    async def self_test(self, tenant_id: str) -> list[Check]:
        """The database answers; the tenant has a usable identity-provider token; and the
        policies would let an identity provider create a User (a dry run, nothing written)."""
        ready, detail = await self._db.ready()
        checks = [Check(name="database", ok=ready, detail=detail)]
        async with self._db.uow() as uow:
            tokens = await uow.tokens.of_tenant(tenant_id)
        now = self._clock.now()
        usable = [t for t in tokens if Role.IDP in t.roles and t.usable_at(now)]
        checks.append(
            Check(
                name="identity provider token",
                ok=bool(usable),
                detail=f"{len(usable)} usable" if usable else "none: issue one with role idp",
            )
        )
        trial = Actor(
            token_id="self-test", name="self-test", roles=frozenset({Role.IDP}), tenant_id=tenant_id
        )
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": _SELF_TEST_USER}  # fmt: skip
        try:
            verdicts, _ = await self._provisioning.evaluate(
                Mutation(kind=MutationKind.CREATE, actor=trial, resource_type="User", body=body)
            )
            denied = [v.decision.explain() for v in verdicts if not v.decision.allowed]
            checks.append(
                Check(
                    name="policies allow provisioning",
                    ok=not denied,
                    detail=denied[0] if denied else "an identity provider may create Users",
                )
            )
        except ScimError as exc:
            checks.append(Check(name="policies allow provisioning", ok=False, detail=exc.detail))
        return checks

    async def first_success(
        self,
        tenant_id: str,
        token_id: str,
        since: dt.datetime,
        *,
        timeout: float,
        poll: float = 0.5,
    ) -> Seen | None:
        """Wait up to ``timeout`` seconds for the token's first successful request."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            async with self._db.uow() as uow:
                found = await uow.requests.first_success(tenant_id, token_id, since)
            if found is not None or asyncio.get_running_loop().time() >= deadline:
                return found
            await asyncio.sleep(poll)


def seen_view(s: Seen) -> dict[str, Any]:
    view: dict[str, Any] = {
        "method": s.method, "path": s.path, "status": s.status, "at": s.at.isoformat()
    }  # fmt: skip
    if s.status >= 400:
        view |= {"scimType": s.scim_type, "detail": s.detail}
    return view


def _token_view(
    token: Token, recent: list[Seen], errors: list[Seen], now: dt.datetime
) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "roles": sorted(token.roles),
        "usable": token.usable_at(now),
        "lastUsedAt": token.last_used_at.isoformat() if token.last_used_at else None,
        "requests": [seen_view(s) for s in recent],
        "errors": [seen_view(s) for s in errors],
    }
