"""Tenure against the plain Python SCIM server (scim2-server), side by side, over HTTP.

Both servers run under the same uvicorn (uvloop, httptools) in processes of their
own; one raw keep-alive HTTP/1.1 client drives them with the same requests, mode
by mode, the peer then Tenure, in one run. For each mode it prints requests per
second, p50/p99 latency, the server's CPU per request (from /proc) and its RSS,
and the ratio Tenure / peer. Tenure runs as shipped: Cedar decides every change,
the audit chain and the outbox are written, every change is committed before it
is answered.

    .venv/bin/python scripts/bench/http.py                 # SQLite, 5,000 then 50,000 Users
    .venv/bin/python scripts/bench/http.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _pathfix  # noqa: F401  (this file is named like the standard library's http)
from _run import (
    Server,
    command_line,
    free_port,
    load,
    stop_on_signals,
    wait_until_ready,
)

HERE = Path(__file__).resolve().parent
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_TICKS = os.sysconf("SC_CLK_TCK")


# --- the client ------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, token: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/scim+json\r\n"
        )
        if body is not None:
            head += f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length) if length else b""
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readuntil(b"\r\n")
        await self.reader.readuntil(b"\r\n")
        return status, b"".join(parts)

    def close(self) -> None:
        self.writer.close()


Request = tuple[str, str, bytes | None]  # method, path, body


class Target:
    """One server under test: where it listens, its SCIM base path, its token, its pid."""

    def __init__(self, name: str, port: int, base: str, token: str, pid: int) -> None:
        self.name, self.port, self.base, self.token, self.pid = name, port, base, token, pid
        self.ids: list[str] = []
        self.names: list[str] = []

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime

    def rss_mib(self, field: str = "VmRSS") -> float:
        """Resident memory; ``RssAnon`` is the process's own, ``RssFile`` mapped files (the
        database pages SQLite maps, shared with the page cache)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def memory(self) -> str:
        return (
            f"{self.rss_mib():.0f} MiB (own {self.rss_mib('RssAnon'):.0f}, "
            f"mapped files {self.rss_mib('RssFile'):.0f})"
        )


class Result:
    def __init__(
        self,
        count: int,
        seconds: float,
        latencies: list[float],
        cpu: float,
        later: list[float] | None = None,
    ) -> None:
        self.count, self.seconds = count, seconds
        self.rate = count / seconds if seconds else 0.0
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000 if ordered else 0.0
        self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0
        self.cpu_ms = cpu / count * 1000 if count else 0.0
        # Without each connection's first request: what a client that is already
        # connected sees (the first waits for the server to accept its connection).
        later = sorted(later or [])
        self.later_p99 = later[min(len(later) - 1, int(len(later) * 0.99))] * 1000 if later else 0
        self.first_max = 0.0  # the slowest first request of a connection (``drive``)


async def drive(
    target: Target,
    requests: Sequence[Request],
    connections: int,
    check: Callable[[int, bytes, int], None],
) -> Result:
    """Send ``requests`` over ``connections`` keep-alive connections, as fast as answered."""
    pool = [await Connection.open(target.port) for _ in range(connections)]
    latencies: list[float] = []
    later: list[float] = []  # not a connection's first request
    firsts: list[float] = []
    cursor = iter(range(len(requests)))

    async def worker(connection: Connection) -> None:
        first = True
        for index in cursor:
            method, path, body = requests[index]
            started = time.perf_counter()
            status, payload = await connection.request(
                method, target.base + path, target.token, body
            )
            took = time.perf_counter() - started
            latencies.append(took)
            (firsts if first else later).append(took)
            first = False
            check(status, payload, index)

    cpu = target.cpu_seconds()
    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in pool))
    finally:
        for connection in pool:
            connection.close()
    seconds = time.perf_counter() - started
    result = Result(len(requests), seconds, latencies, target.cpu_seconds() - cpu, later)
    result.first_max = max(firsts, default=0) * 1000
    return result


# --- the modes ---------------------------------------------------------------------


def _user(name: str) -> bytes:
    return json.dumps({"schemas": [USER], "userName": name, "active": True}).encode()


def _expect(*statuses: int) -> Callable[[int, bytes, int], None]:
    def check(got: int, payload: bytes, index: int) -> None:
        if got not in statuses:
            raise SystemExit(f"request {index}: {got} instead of {statuses}: {payload[:300]!r}")

    return check


async def create(target: Target, first: int, last: int, connections: int, run: str) -> Result:
    names = [f"{run}-user-{i:06d}" for i in range(first, last)]
    ids: dict[int, str] = {}

    def check(status: int, payload: bytes, index: int) -> None:
        _expect(201)(status, payload, index)
        ids[index] = json.loads(payload)["id"]

    result = await drive(target, [("POST", "/Users", _user(n)) for n in names], connections, check)
    target.ids += [ids[i] for i in range(len(names))]
    target.names += names
    return result


def reads(target: Target, count: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    return [("GET", f"/Users/{rng.choice(target.ids)}", None) for _ in range(count)]


def filters(target: Target, count: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    out: list[Request] = []
    for _ in range(count):
        name = rng.choice(target.names)
        out.append(("GET", f"/Users?filter=userName%20eq%20%22{name}%22", None))
    return out


def patches(target: Target, count: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    out: list[Request] = []
    for i in range(count):
        operation = {"op": "replace", "path": "active", "value": i % 2 == 1}
        body = {"schemas": [PATCH_OP], "Operations": [operation]}
        out.append(("PATCH", f"/Users/{rng.choice(target.ids)}", json.dumps(body).encode()))
    return out


def _found_one(status: int, payload: bytes, index: int) -> None:
    _expect(200)(status, payload, index)
    if json.loads(payload).get("totalResults") != 1:
        raise SystemExit(f"request {index}: the filter did not find exactly one User")


# --- the servers ----------------------------------------------------------------


class Peer:
    """scim2-server's ASGI app (scripts/bench/_peer.py) in a process of its own."""

    def __init__(self, token: str, workdir: Path) -> None:
        self.port, self.token, self._workdir = free_port(), token, workdir
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Peer:
        log = (self._workdir / "peer.log").open("wb")
        self._process = subprocess.Popen(
            [sys.executable, str(HERE / "_peer.py"), str(self.port), self.token],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_until_ready(
            self._process,
            f"http://127.0.0.1:{self.port}/v2/ServiceProviderConfig",
            {"Authorization": f"Bearer {self.token}"},
        )
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __exit__(self, *_exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=20)


def _tenure_env(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, str], str]:
    """A migrated database with one tenant and one idp token; the server's environment."""
    import sqlalchemy as sa  # noqa: F401  (the app's own store does the work)

    from app.domain.actor import Role
    from app.domain.clock import SystemClock
    from app.provisioning.tenancy import Tenancy
    from app.store.uow import Database

    key = secrets.token_hex(32)
    # As shipped, the scheduler on: its audit sequencer links every write's event into
    # the chain moments after the commit, in this process, and that work is measured.
    # (The sweep finds nothing to do among plain Users.)
    env = {"TENURE_SECRET_KEY": key}
    if args.postgres:
        schema = f"bench_{secrets.token_hex(6)}"
        env |= {"TENURE_DATABASE_URL": args.postgres, "TENURE_DATABASE_SCHEMA": schema}
        args.schema = schema
    else:
        env["TENURE_DATABASE_URL"] = f"sqlite:///{workdir / 'tenure.db'}"

    async def prepare() -> str:
        if args.postgres:
            import asyncpg

            connection = await asyncpg.connect(args.postgres)
            await connection.execute(f'CREATE SCHEMA "{args.schema}"')
            await connection.close()
        db = Database(env["TENURE_DATABASE_URL"], schema=env.get("TENURE_DATABASE_SCHEMA"))
        try:
            await db.migrate()
            tenancy = Tenancy(db, key.encode(), SystemClock(), 60, 5)
            tenant = await tenancy.create_tenant("bench")
            issued = await tenancy.issue_token(tenant.id, frozenset({Role.IDP}), "bench")
            return issued.plaintext
        finally:
            await db.dispose()

    return env, asyncio.run(prepare())


async def _drop_schema(url: str, schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


async def _analyze(args: argparse.Namespace) -> None:
    """After a bulk load, what PostgreSQL's autovacuum (on by default) does within a
    minute: fresh statistics. Some servers run with it off, as this machine's does;
    without statistics the planner takes a table that grew from nothing for empty and
    reads a User by id through the per-tenant index, scanning them all."""
    if not args.postgres:
        return
    import asyncpg

    connection = await asyncpg.connect(args.postgres)
    try:
        if await connection.fetchval("SHOW autovacuum") == "on":
            return
        await connection.execute(f'ANALYZE "{args.schema}".resources')
        print("(autovacuum is off on this server: ANALYZE run after the load)", flush=True)
    finally:
        await connection.close()


# --- the run ------------------------------------------------------------------------


def _row(mode: str, peer: Result, ours: Result) -> str:
    ratio = ours.rate / peer.rate if peer.rate else float("nan")
    return (
        f"| {mode} | {peer.rate:,.0f} | {ours.rate:,.0f} | {ratio:.2f} | "
        f"{peer.p50:.1f} / {peer.p99:.1f} | {ours.p50:.1f} / {ours.p99:.1f} | "
        f"{peer.cpu_ms:.2f} / {ours.cpu_ms:.2f} |"
    )


async def run(args: argparse.Namespace, peer: Target, ours: Target) -> list[str]:
    """The modes, each printed as it ends; what follows the table is returned."""
    rows: list[str] = []
    summary: list[str] = []
    flat: dict[str, float] = {}
    tag = secrets.token_hex(3)

    async def both(mode: str, make: Callable[[Target], Any]) -> tuple[Result, Result]:
        first = await make(peer)
        second = await make(ours)
        rows.append(_row(mode, first, second))
        print(rows[-1], flush=True)
        return first, second

    n, c = args.users, args.connections
    await both(f"POST /Users, 0 → {n:,}", lambda t: create(t, 0, n, c, tag))
    await _analyze(args)
    await both("GET /Users/{id}",
               lambda t: drive(t, reads(t, args.requests, 1), c, _expect(200)))  # fmt: skip
    _, f5 = await both("GET /Users?filter=userName eq",
                       lambda t: drive(t, filters(t, args.requests, 2), c, _found_one))  # fmt: skip
    # RFC 7644 §3.5.2 lets a server answer a PATCH with 204; the peer does, Tenure answers
    # 200 with the resource (more work, and what clients such as Entra read).
    await both("PATCH /Users/{id} (replace active)",
               lambda t: drive(t, patches(t, args.requests, 3), c,
                               _expect(200) if t is ours else _expect(200, 204)))  # fmt: skip
    flat["filter_5k"] = f5.rate
    if args.grow > n:
        await both(f"POST /Users, {n:,} → {args.grow:,}",
                   lambda t: create(t, n, args.grow, c, tag))  # fmt: skip
        await _analyze(args)
        await both(f"GET /Users/{{id}} at {args.grow:,}",
                   lambda t: drive(t, reads(t, args.requests, 4), c, _expect(200)))  # fmt: skip
        _, f50 = await both(
            f"GET /Users?filter=userName eq at {args.grow:,}",
            lambda t: drive(t, filters(t, args.requests, 5), c, _found_one),
        )
        summary.append(
            f"filter at {args.grow:,} / at {n:,} (Tenure): {f50.rate / flat['filter_5k']:.2f}"
        )
    summary.append(f"RSS after the run: scim2-server {peer.memory()}, Tenure {ours.memory()}")
    if args.wide:
        for target in (peer, ours):
            wide = await drive(target, reads(target, args.requests, 6), args.wide, _expect(200))
            summary.append(
                f"{target.name}, GET by id over {args.wide} connections: {wide.rate:,.0f} req/s, "
                f"p50 {wide.p50:.0f} ms, p99 {wide.p99:.0f} ms ({_later(wide)})"
            )
        for target in (peer, ours):
            expect = _expect(200) if target is ours else _expect(200, 204)
            wide = await drive(target, patches(target, args.requests, 7), args.wide, expect)
            summary.append(
                f"{target.name}, PATCH over {args.wide} connections: {wide.rate:,.0f} req/s, "
                f"p50 {wide.p50:.0f} ms, p99 {wide.p99:.0f} ms ({_later(wide)})"
            )
    return summary


def _later(result: Result) -> str:
    return (
        f"connected clients' p99 {result.later_p99:.0f} ms; slowest first request "
        f"on a new connection {result.first_max:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--grow", type=int, default=50000, help="then grow both to this many")
    parser.add_argument("--requests", type=int, default=5000, help="per read and PATCH mode")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wide", type=int, default=200, help="connections for the last read")
    parser.add_argument("--postgres", help="run Tenure on this PostgreSQL (a fresh schema)")
    args = parser.parse_args()
    stop_on_signals()
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    workdir = Path(tempfile.mkdtemp(prefix="tenure-http-bench-"))
    args.schema = None
    env, token = _tenure_env(args, workdir)
    print(f"$ {command_line()}")
    print(f"load average at start: {load()}; {os.cpu_count()} cores")
    print(f"Tenure on {'PostgreSQL' if args.postgres else 'SQLite'}; {args.connections} "
          f"connections, {args.requests} requests per read and PATCH mode\n")  # fmt: skip
    print("| work | scim2-server req/s | Tenure req/s | ratio | peer p50 / p99 ms | "
          "Tenure p50 / p99 ms | server CPU ms per request, peer / Tenure |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    peer_token = secrets.token_hex(16)
    try:
        with Peer(peer_token, workdir) as peer, Server(env, workdir) as server:
            assert server.pid is not None
            summary = asyncio.run(
                run(
                    args,
                    Target("scim2-server", peer.port, "/v2", peer_token, peer.pid),
                    Target("Tenure", server.port, "/scim/v2", token, server.pid),
                )
            )
    finally:
        if args.postgres and args.schema:
            asyncio.run(_drop_schema(args.postgres, args.schema))
    print()
    for line in summary:
        print(line)
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
