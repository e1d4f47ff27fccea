"""The composition root: create_app(settings) wires every part; nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Awaitable, Callable

from litestar import Litestar
from litestar.di import Provide

from app.api.admin import SettingsAdminController, TenantAdminController, TokenAdminController
from app.api.auth import provide_actor
from app.api.bulk import BulkController
from app.api.connections import ConnectionController, observer
from app.api.discovery import DiscoveryController
from app.api.errors import EXCEPTION_HANDLERS
from app.api.health import healthz, readyz
from app.api.identities import IdentityAdminController
from app.api.logs import request_context
from app.api.notifications import (
    OutboxAdminController,
    SmtpAdminController,
    WebhookAdminController,
)
from app.api.openapi import openapi_config
from app.api.policies import PolicyAdminController
from app.api.reports import AuditController, ReportsController
from app.api.scim import ResourceController, SearchController
from app.api.services import Services
from app.audit.chain import AuditTrail
from app.config import Settings, public_base
from app.domain.clock import Clock, SystemClock
from app.domain.tenancy import SmtpServer
from app.lifecycle.scheduler import SweepScheduler
from app.lifecycle.sweeper import Sweeper
from app.notify.delivery import Deliverer
from app.policy.engine import PolicyEngine, PolicyError
from app.provisioning.bulk import Bulk
from app.provisioning.connections import Connections
from app.provisioning.governance import Governance
from app.provisioning.judge import Judge
from app.provisioning.mutation import Provisioning
from app.provisioning.nhi import Lifetimes
from app.provisioning.notifications import Notifications
from app.provisioning.policies import TenantPolicies
from app.provisioning.reads import Reader
from app.provisioning.tenancy import Tenancy
from app.reports.service import Reports
from app.scim.schema import read_registry
from app.store.uow import Database

log = logging.getLogger("tenure")


def lifetimes_of(settings: Settings) -> Lifetimes:
    """The server's governance defaults; tenants lay their own settings over them."""
    return Lifetimes(
        default={
            "agent": dt.timedelta(days=settings.nhi_lifetime_days_agent),
            "service_account": dt.timedelta(days=settings.nhi_lifetime_days_service_account),
        },
        hard_cap=dt.timedelta(days=settings.nhi_hard_cap_days),
        max_depth=settings.delegation_max_depth,
        attestation=dt.timedelta(days=settings.nhi_attestation_days),
        teardown_grace=dt.timedelta(hours=settings.nhi_teardown_grace_hours),
        orphan_grace=dt.timedelta(hours=settings.nhi_orphan_grace_hours),
        attestation_grace=dt.timedelta(hours=settings.nhi_attestation_grace_hours),
    )


def build_services(settings: Settings, clock: Clock) -> Services:
    """Every part wired once: the app serves them, the CLI uses them too."""
    registry = read_registry(
        settings.schemas_path,
        overrides={
            "bulk": {
                "maxPayloadSize": settings.max_payload_size,
                "maxOperations": settings.bulk_max_operations,
            },
            "filter": {"maxResults": settings.max_results},
            "pagination": {
                "defaultPageSize": settings.default_count,
                "maxPageSize": settings.max_results,
            },
        },
    )
    db = Database(
        settings.database_url,
        schema=settings.database_schema,
        pool_size=settings.database_pool_size,
        wait_seconds=settings.database_wait_seconds,
    )
    lifetimes = lifetimes_of(settings)
    trail = AuditTrail(db, clock)
    db.on_audit = trail.written  # a commit that wrote audit events wakes the sequencer
    governance = Governance(lifetimes)
    judge = Judge(PolicyEngine.load(settings.policies_path), governance)
    provisioning = Provisioning(db, registry, clock, governance, judge)
    services = Services(
        settings=settings,
        db=db,
        registry=registry,
        tenancy=Tenancy(
            db,
            settings.secret_key,
            clock,
            settings.token_touch_interval,
            settings.token_cache_seconds,
        ),
        provisioning=provisioning,
        reader=Reader(db, registry, settings.secret_key, clock),
        bulk=Bulk(provisioning, registry, settings.bulk_max_operations),
        policies=TenantPolicies(db, judge.engine, clock),
        notifications=Notifications(db, clock),
        clock=clock,
        reports=Reports(
            db,
            clock,
            settings.secret_key,
            lambda own: lifetimes.for_tenant(own).limits,
            sequence=trail.sequence,
        ),
        audit=trail,
        connections=Connections(db, clock, provisioning),
    )
    return services


def _reload_on_sighup(engine: PolicyEngine) -> None:
    """``kill -HUP``: re-read policies/ as POST /admin/policies/reload does."""

    def reload() -> None:
        try:
            engine.reload()
        except PolicyError as exc:
            log.error("policies not reloaded, the previous set stays", extra={"error": str(exc)})

    # Not in the main thread (an in-process test client) or no signals here: no SIGHUP.
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)


def _ignore_sighup() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


def smtp_of(settings: Settings) -> SmtpServer | None:
    if not settings.smtp_host:
        return None
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        sender=settings.smtp_from,
    )


def sweeper_of(settings: Settings, services: Services) -> Sweeper:
    """The lifecycle sweeper over ``services``, as the settings tune it."""
    services.provisioning.base_url = public_base(settings)
    services.provisioning.warning_days = settings.warning_days
    services.provisioning.email = bool(settings.smtp_host)
    return Sweeper(
        services.db,
        services.provisioning,
        services.clock,
        warning_days=settings.warning_days,
        blast_radius=(settings.blast_radius_percent, settings.blast_radius_minimum),
    )


def create_app(settings: Settings, *, clock: Clock | None = None) -> Litestar:
    services = build_services(settings, clock or SystemClock())
    sweeper = sweeper_of(settings, services)
    deliverer = Deliverer(services.db, services.clock, smtp=smtp_of(settings))
    timer = SweepScheduler(
        sweeper,
        deliverer,
        services.clock,
        dt.timedelta(seconds=settings.sweep_interval_seconds),
        retention=services.audit.prune,
    )
    # A change that makes something due sooner than planned re-arms the alarm.
    services.provisioning.on_due = timer.wake
    flusher = _Background(services.connections.run, services.connections.stop)
    # The replica's background work: the sweep and the audit chain's sequencer (every
    # read of the trail sequences first, so a replica without them still reads it whole).
    sequencer = _Background(services.audit.run, services.audit.sequence_all)
    started = [timer.start, sequencer.start] if settings.scheduler else []
    app = Litestar(
        route_handlers=[
            DiscoveryController,
            SearchController,
            BulkController,
            ResourceController,
            TokenAdminController,
            IdentityAdminController,
            SettingsAdminController,
            TenantAdminController,
            PolicyAdminController,
            WebhookAdminController,
            SmtpAdminController,
            ReportsController,
            AuditController,
            ConnectionController,
            OutboxAdminController,
            healthz,
            readyz,
        ],
        dependencies={"actor": Provide(provide_actor)},
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,  # logging is configured once, by the CLI (JSON lines)
        request_max_body_size=settings.max_payload_size,
        on_startup=[
            lambda: _reload_on_sighup(services.policies.engine),
            # Held e-mail goes once the server has a mail server (tenants' own: when set).
            *([services.notifications.release_email] if settings.smtp_host else []),
            flusher.start,
            *started,
        ],
        on_shutdown=[
            _ignore_sighup,
            timer.stop,
            flusher.stop,
            sequencer.stop,
            services.db.dispose,
        ],
        openapi_config=openapi_config(title="Tenure", version="0.1.0"),
    )
    app.state.services = services
    app.state.sweeper = sweeper
    app.state.deliverer = deliverer
    # Outside the router, so that unknown paths and methods (404/405) get a
    # request id and an access line too; route middleware would miss them.
    app.asgi_handler = request_context(
        app.asgi_handler, observer(services.connections, services.clock)
    )
    return app


class _Background:
    """A task the app runs while it serves (the request log's writer), stopped cleanly."""

    def __init__(
        self, run: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        self._run, self._stop = run, stop
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stop()
