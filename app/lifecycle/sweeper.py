"""The sweeper (DESIGN.md "Lifecycle"): claim due identities, tear each down as a Mutation.

What is due: an end (``expiresAt``), an orphan's ``suspendAt``, an
attestation's ``attestBy``, a suspension's ``teardownAt``. Expiry: at
``expiresAt`` an identity is suspended (inactive, out of its
Groups, ``suspendedReason: expired``, a ``teardownAt`` after the tenant's
grace); at ``teardownAt`` it is deprovisioned, its subtree with it. Each step
is an ordinary Mutation with the scheduler as principal, so Cedar decides it
(``tenure.scheduler.due``) and the audit log records it. Claims are leases:
several sweepers share the work without doing any identity twice, and one
that dies leaves nothing half done (each identity is one transaction).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import msgspec

from app.domain.actor import scheduler
from app.domain.audit import AuditEvent
from app.domain.clock import Clock
from app.domain.notifications import Message
from app.notify import plan
from app.notify.routing import route
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.executor import Denied
from app.provisioning.mutation import Provisioning
from app.scim.errors import NotFound, ScimError
from app.store.sweep import Due
from app.store.uow import Database

log = logging.getLogger("tenure.sweeper")

_WARNINGS = "expiry_warnings"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What the sweep did (or, dry, would do) to one identity."""

    tenant_id: str
    resource_type: str
    resource_id: str
    action: str  # "suspend" | "teardown"
    reason: str
    done: bool
    detail: str | None = None  # why not


class Sweeper:
    def __init__(
        self,
        db: Database,
        provisioning: Provisioning,
        clock: Clock,
        *,
        batch: int = 200,
        lease: dt.timedelta = dt.timedelta(minutes=5),
        backoff: dt.timedelta = dt.timedelta(hours=1),
        warning_days: tuple[int, ...] = (14, 3, 1),
        blast_radius: tuple[int, int] = (20, 10),
    ) -> None:
        self._db = db
        self._provisioning = provisioning
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._backoff = backoff
        self._warning_days = warning_days
        self._blast_percent, self._blast_minimum = blast_radius

    async def plan_warnings(self) -> int:
        """Plan the warnings whose moment came since the last scan; how many.

        For each tenant and each of its leads (``warningDays``, else the
        server's): one range query on the end dates (``expiry_warning``) and
        one on the attestation deadlines (``attestation_due``; at the deadline
        itself, ``attestation_overdue``), both indexed. The de-duplication keys
        make a repeated or concurrent scan harmless; a scan that finds several
        leads of one identity passed (the scheduler was away) sends the last.
        """
        now = self._clock.now()
        planned = 0
        async with self._db.uow(write=True) as uow:
            since = await uow.outbox.mark(_WARNINGS)
            for tenant in await uow.tenants.all():
                leads = tenant.settings.warning_days or self._warning_days
                start = since or now - dt.timedelta(days=max(leads, default=0))
                # Per identity and moment, the most pressing warning only: after
                # downtime, "3 days left" makes "14 days left" moot.
                latest: dict[tuple[str, str], Message] = {}
                for moment, lead_days in (("expiresAt", leads), ("attestBy", (*leads, 0))):
                    for days in sorted(lead_days, reverse=True):
                        lead = dt.timedelta(days=days)
                        found = await uow.sweep.expiring(
                            tenant.id, start + lead, now + lead, moment=moment
                        )
                        for resource in found:
                            for message in plan.warnings(
                                resource,
                                moment=moment,
                                leads=(days,),
                                since=start,
                                now=now,
                                base_url=self._provisioning.base_url,
                            ):
                                latest[(resource.id, moment)] = message
                if latest:
                    messages = list(latest.values())
                    planned += await route(uow, messages, email=self._provisioning.email)
            await uow.outbox.set_mark(_WARNINGS, now)
            await uow.commit()
        return planned

    async def next_due(self) -> dt.datetime | None:
        async with self._db.uow() as uow:
            return await uow.sweep.next_due()

    async def sweep(
        self,
        *,
        tenant_id: str | None = None,
        dry_run: bool = False,
        progress: Callable[[Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Settle everything due now, batch by batch; what was done, in order.

        A dry run claims nothing and writes nothing: it asks Cedar (in a
        rolled-back transaction) what each step would meet.
        """
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        blocked = [] if dry_run else await self._guard(tenant_id)
        while True:
            now = self._clock.now()
            # A dry run looks at everything due at once: read off the event loop.
            async with self._db.uow(write=not dry_run, offload=dry_run) as uow:
                due = await uow.sweep.claim_due(
                    now,
                    now + self._lease,
                    self._batch if not dry_run else 100_000,
                    tenant_id,
                    claim=not dry_run,
                    exclude=blocked,
                )
                if not dry_run:
                    await uow.commit()
            fresh = [d for d in due if d.resource_id not in seen]
            seen.update(d.resource_id for d in fresh)
            settled = await self._settle_all(fresh, dry_run=dry_run)
            for outcome in settled:
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
            if dry_run or not fresh:
                return outcomes

    async def _guard(self, tenant_id: str | None) -> list[str]:
        """Tenants this run leaves alone: suspending what is due would take too much at once.

        More than the tenant's share (``blastRadiusPercent``, 20 %) of its active
        identities — and at least the minimum — due together smells of a wrong
        clock or a bulk mistake, not of lifetimes running out: stop, record an
        alert in the audit log, and tell the tenant's admins (once a day).
        """
        now = self._clock.now()
        blocked: list[str] = []
        async with self._db.uow(write=True) as uow:
            for tid, due, active in await uow.sweep.pressure(now):
                if tenant_id is not None and tid != tenant_id:
                    continue
                tenant = await uow.tenants.get(tid)
                if tenant is None:
                    continue
                percent = tenant.settings.blast_radius_percent or self._blast_percent
                if due < self._blast_minimum or due * 100 <= percent * active:
                    continue
                blocked.append(tid)
                mark = f"blast_radius:{tid}"
                last = await uow.outbox.mark(mark)
                if last is not None and now - last < dt.timedelta(days=1):
                    continue
                alert = plan.blast_radius(tid, due=due, active=active, percent=percent, now=now)
                log.error("sweep stopped by the blast-radius guard", extra={"tenant": tid})
                await uow.audit.append(
                    AuditEvent(
                        tenant_id=tid,
                        at=now,
                        actor_token="scheduler",
                        actor_name="scheduler",
                        actor_roles=("scheduler",),
                        action="alert",
                        resource_type="Tenant",
                        resource_id=tid,
                        resource_name=tenant.name,
                        decision="deny",
                        policy_ids=(),
                        reason="blast_radius",
                        detail=alert.payload["data"]["detail"],
                    )
                )
                await route(uow, [alert], email=self._provisioning.email)
                await uow.outbox.set_mark(mark, now)
            await uow.commit()
        return blocked

    async def _settle_all(self, items: list[Due], *, dry_run: bool) -> list[Outcome]:
        """Suspensions of one tenant in one transaction each batch; teardowns one by one.

        A teardown takes its subtree along and may find a child already gone.
        """
        outcomes: list[Outcome] = []
        groups: dict[tuple[str, str], list[Due]] = {}
        for item in items:
            kind, reason = self._step(item)
            if kind is MutationKind.SUSPEND and not dry_run:
                groups.setdefault((item.tenant_id, reason), []).append(item)
            else:
                outcome = await self._settle(item, kind, reason, dry_run=dry_run)
                if outcome is not None:
                    outcomes.append(outcome)
        for (tenant_id, reason), batch in groups.items():
            results = await self._provisioning.suspend_many(
                tenant_id, [(d.resource_type, d.resource_id) for d in batch], reason
            )
            why = dict(results)
            for item in batch:
                detail = why.get(item.resource_id)
                if detail is not None:
                    await self._hold(item)  # not due after all, or refused: later, not now
                outcomes.append(_outcome(item, "suspend", reason, detail is None, detail))
        return outcomes

    def _step(self, item: Due) -> tuple[MutationKind, str]:
        """What is due for ``item``: suspend or tear down, and why.

        Suspended with a teardown time: deprovision; otherwise (active, or
        suspended on request and now past its end): suspend, setting one —
        because it ended, because, ownerless, its grace ran out, or because
        no owner attested to it in time (``attestBy``).
        """
        if item.state == "suspended" and item.teardown_at:
            reason = item.suspended_reason or "expired"
            return MutationKind.TEARDOWN, "expired" if reason == "requested" else reason
        now = self._clock.now()
        ends = item.expires_at
        if ends is None or ends <= now or item.state == "suspended":
            return MutationKind.SUSPEND, "expired"
        if item.suspend_at is not None and item.suspend_at <= now:
            return MutationKind.SUSPEND, "orphaned"
        return MutationKind.SUSPEND, "unattested"

    async def _settle(
        self, item: Due, kind: MutationKind, reason: str, *, dry_run: bool
    ) -> Outcome | None:
        mutation = Mutation(
            kind=kind,
            actor=scheduler(item.tenant_id),
            resource_type=item.resource_type,
            resource_id=item.resource_id,
            reason=reason,
            with_members=False,
            with_groups=False,
        )
        try:
            if dry_run:
                verdicts, _ = await self._provisioning.evaluate(mutation)
                denied = [v.decision for v in verdicts if not v.decision.allowed]
                detail = denied[0].explain() if denied else None
                return _outcome(item, kind.value, reason, not denied, detail)
            await self._provisioning.run(mutation)
        except Denied as exc:
            # Not due after all (renewed meanwhile) or refused: look again later, not now.
            await self._hold(item)
            return _outcome(item, kind.value, reason, False, exc.detail)
        except NotFound:
            return None  # torn down meanwhile, with its parent
        except ScimError as exc:
            await self._hold(item)
            log.warning("sweep step failed", extra={"resource_id": item.resource_id})
            return _outcome(item, kind.value, reason, False, exc.detail)
        return _outcome(item, kind.value, reason, True, None)

    async def _hold(self, item: Due) -> None:
        async with self._db.uow(write=True) as uow:
            await uow.sweep.hold(
                item.tenant_id, item.resource_id, self._clock.now() + self._backoff
            )
            await uow.commit()


def _outcome(item: Due, action: str, reason: str, done: bool, detail: str | None) -> Outcome:
    return Outcome(
        tenant_id=item.tenant_id,
        resource_type=item.resource_type,
        resource_id=item.resource_id,
        action=action,
        reason=reason,
        done=done,
        detail=detail,
    )
