"""Unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.scim.errors import Unavailable
from app.store import migrate
from app.store.audit import AuditRepository
from app.store.connections import RequestLogRepository
from app.store.counts import CountRepository
from app.store.db import create_engine, create_loop_engine, write_options
from app.store.memberships import MembershipRepository
from app.store.outbox import OutboxRepository
from app.store.owners import OwnerRepository
from app.store.reports import ReportRepository
from app.store.resources import ResourceRepository
from app.store.retirements import RetirementRepository
from app.store.sweep import SweepRepository
from app.store.tenancy import TenantRepository, TokenRepository


class _OnTheLoop:
    """A synchronous connection behind the awaitable calls the repositories make.

    Each ``await`` completes at once, without leaving the event loop: a unit of
    work on it runs from BEGIN to COMMIT without another task in between.
    """

    def __init__(self, connection: sa.Connection, kept: LoopConnections, write: bool) -> None:
        self._c, self._kept, self._write = connection, kept, write

    @property
    def dialect(self) -> sa.Dialect:
        return self._c.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._c.execute(statement, parameters)

    def begin_nested(self) -> _Savepoint:
        return _Savepoint(self._c)

    async def begin(self) -> None:
        self._c.begin()

    def in_transaction(self) -> bool:
        return self._c.in_transaction()

    async def commit(self) -> None:
        self._c.commit()

    async def rollback(self) -> None:
        self._c.rollback()

    async def close(self) -> None:
        self._kept.give(self._c, self._write)


class LoopConnections:
    """SQLite connections for work on the loop, kept open between units of work.

    Taking one is a list pop: the pool's checkout and return (its events, its
    reset) cost more than a read by id. Units of work on the loop never overlap
    in practice (none yields between BEGIN and COMMIT), so ``keep`` idle ones
    are plenty; one more is made if ever they do, and closed after.
    """

    def __init__(self, engine: sa.Engine, keep: int = 2) -> None:
        self._engine, self._keep = engine, keep
        self._free: dict[bool, list[sa.Connection]] = {False: [], True: []}

    def take(self, write: bool) -> sa.Connection:
        free = self._free[write]
        if free:
            return free.pop()
        # Readers and writers apart: a connection's execution options (BEGIN or
        # BEGIN IMMEDIATE) are set once, when it is made.
        return self._engine.connect().execution_options(**write_options(write))

    def give(self, connection: sa.Connection, write: bool) -> None:
        free = self._free[write]
        usable = not (connection.closed or connection.invalidated or connection.in_transaction())
        if usable and len(free) < self._keep:
            free.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        for free in self._free.values():
            while free:
                free.pop().close()
        self._engine.dispose()


class _Savepoint:
    def __init__(self, connection: sa.Connection) -> None:
        self._c = connection
        self._nested: sa.NestedTransaction | None = None

    async def __aenter__(self) -> None:
        self._nested = self._c.begin_nested()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._nested is not None
        if exc_type is None:
            self._nested.commit()
        else:
            self._nested.rollback()


class TenantStore:
    """The repositories of one tenant's resources, memberships and owners in a unit of work:
    each bound to the tenant when made, so that no statement of theirs can leave it."""

    def __init__(self, connection: Any, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.memberships = MembershipRepository(connection, tenant_id)
        self.owners = OwnerRepository(connection, tenant_id)
        self.counts = CountRepository(connection, tenant_id)
        self.resources = ResourceRepository(connection, self.memberships, self.owners, self.counts)


class UnitOfWork:
    """``async with db.uow(write=True) as uow: …; await uow.commit()``; anything else rolls back.

    ``uow.of(tenant_id)`` gives a tenant's resources, memberships and owners.
    """

    sweep: SweepRepository
    tenants: TenantRepository
    tokens: TokenRepository
    audit: AuditRepository
    outbox: OutboxRepository
    reports: ReportRepository
    requests: RequestLogRepository
    retirements: RetirementRepository

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        write: bool,
        on_loop: LoopConnections | None = None,
        on_audit: Callable[[], None] | None = None,
        gate: asyncio.Semaphore | None = None,
        wait_seconds: float = 15.0,
        snapshot: bool = True,
    ) -> None:
        self._engine = engine
        # PostgreSQL reads that need no one snapshot run without BEGIN and ROLLBACK.
        self._autocommit = not (write or snapshot) and engine.dialect.name == "postgresql"
        self._gate = gate
        self._wait = wait_seconds
        self._on_loop = on_loop
        self._on_audit = on_audit
        self._write = write
        self._connection: Any = None
        self._stores: dict[str, TenantStore] = {}

    async def __aenter__(self) -> UnitOfWork:
        if self._gate is not None:
            try:
                await asyncio.wait_for(self._gate.acquire(), self._wait)
            except TimeoutError:
                self._gate = None  # not acquired: nothing to release
                raise Unavailable("the server is busy; retry shortly") from None
        connection: Any = None
        try:
            if self._on_loop is not None:
                kept = self._on_loop
                connection = _OnTheLoop(kept.take(self._write), kept, self._write)
            else:
                connection = await self._engine.connect()
                if self._write:
                    connection = await connection.execution_options(**write_options())
                elif self._autocommit:
                    connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.begin()
        except BaseException:
            # Not entered: __aexit__ will not run, so give back what was taken here.
            try:
                if connection is not None:
                    await connection.close()
            finally:
                self._release()
            raise
        self._connection = connection
        self.sweep = SweepRepository(connection, self.of)
        self.tenants = TenantRepository(connection)
        self.tokens = TokenRepository(connection)
        self.audit = AuditRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.reports = ReportRepository(connection)
        self.requests = RequestLogRepository(connection)
        self.retirements = RetirementRepository(connection)
        return self

    def of(self, tenant_id: str) -> TenantStore:
        """The tenant's repositories on this unit of work's connection (made once per tenant)."""
        assert self._connection is not None
        store = self._stores.get(tenant_id)
        if store is None:
            store = self._stores[tenant_id] = TenantStore(self._connection, tenant_id)
        return store

    def savepoint(self) -> Any:
        """``async with uow.savepoint():`` — what fails inside is undone, the rest stays."""
        assert self._connection is not None
        return self._connection.begin_nested()

    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()
        if self.audit.wrote and self._on_audit is not None:
            self._on_audit()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if self._connection.in_transaction():
                await self._connection.rollback()
        finally:
            try:
                await self._connection.close()
            finally:
                self._connection = None
                self._release()

    def _release(self) -> None:
        if self._gate is not None:
            self._gate.release()
            self._gate = None


class Database:
    """The store as the rest of the app sees it."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        wait_seconds: float = 15.0,
    ) -> None:
        """``wait_seconds``: how long a unit of work waits for a pooled connection before
        its request is answered 503 with ``Retry-After``."""
        self._wait = wait_seconds
        self.engine = create_engine(url, schema=schema, pool_size=pool_size)
        # SQLite's engine for work on the loop (None on PostgreSQL).
        self.loop_engine = create_loop_engine(url)
        self._on_loop = LoopConnections(self.loop_engine) if self.loop_engine else None
        # Requests take the pooled connections in the order they asked (asyncio's
        # semaphore is fair; the pool's own queue lets a newcomer take a connection
        # a waiter was woken for, and the unlucky waited seconds under load). One
        # per event loop: tests run apps on loops of their own.
        # The pool's own connections (db.create_engine keeps them all open).
        self._capacity = pool_size if self._on_loop is None else 0
        self._gate_of: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        # Called after a commit that wrote audit events (the sequencer's wake-up).
        self.on_audit: Callable[[], None] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(
        self, *, write: bool = False, offload: bool = False, snapshot: bool = True
    ) -> UnitOfWork:
        """A unit of work. Bounded work (a read by id, a page, a mutation) runs on the
        event loop on SQLite; ``offload`` (reads only: report streams, audit verify, a
        dry sweep) runs in the driver's thread, so the loop goes on serving meanwhile.

        ``snapshot=False``: a bounded read whose statements need not agree on one
        snapshot (a resource and its groups, a page and its count). On PostgreSQL
        each statement then sees what is committed when it runs, with no BEGIN and
        ROLLBACK round trips around it; on SQLite's loop nothing can come between
        them anyway. Never for what must add up (audit verification, reports)."""
        assert not (write and offload), "writes stay on the loop: SQLite has one writer"
        return UnitOfWork(
            self.engine,
            write=write,
            on_loop=None if offload else self._on_loop,
            on_audit=self.on_audit,
            gate=self._gate(),
            wait_seconds=self._wait,
            snapshot=snapshot,
        )

    def _gate(self) -> asyncio.Semaphore | None:
        if not self._capacity:
            return None
        loop = asyncio.get_running_loop()
        if self._gate_of is None or self._gate_of[0] is not loop:
            self._gate_of = (loop, asyncio.Semaphore(self._capacity))  # a new loop: a new app
        return self._gate_of[1]

    async def migrate(self) -> None:
        await migrate.upgrade(self.engine)

    async def ready(self) -> tuple[bool, str]:
        """Reachable and at the newest migration? (readiness probe)."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
            current = await migrate.current_revision(self.engine)
        except Exception as exc:
            return False, f"database unreachable: {type(exc).__name__}"
        head = migrate.head_revision()
        if current != head:
            return False, f"database at migration {current}, code expects {head}"
        return True, "ok"

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._on_loop is not None:
            self._on_loop.close()
