#!/usr/bin/env python3
"""Query benchmark: filters, pages and a 1,000-member PATCH on a large tenant, over real HTTP.

Seeds one tenant (100,000 Users and 2,000 Groups by default) straight into a
fresh database, serves it with ``tenure serve`` (uvicorn, uvloop, httptools) in
a separate process, and times sequential requests from one keep-alive client.
It measures and prints; it asserts only that the answers are right.

    .venv/bin/python scripts/bench/query.py [--users N] [--groups N]
        [--postgres URL] [--keep] [--explain]

See scripts/bench/README.md for what each scenario sends and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import json
import os
import platform
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import _pathfix  # noqa: F401  (first: this folder's http.py is not the standard library's)
import httpx
import sqlalchemy as sa
from _run import Server, command_line, load, stop_on_signals

from app.config import data_dir
from app.domain.actor import Role
from app.domain.clock import SystemClock
from app.provisioning.compute import draft_create
from app.provisioning.reads import Reader
from app.provisioning.tenancy import Tenancy
from app.scim.query import read_list_query
from app.scim.schema import read_registry

# The store's own row builder, so seeded rows are what ResourceRepository.add writes.
from app.store.tables import group_members
from app.store.uow import Database

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

WARMUP = 50
BATCH = 5_000  # rows per executemany
MAX_GROUP_MEMBERS = 50
PATCH_MEMBERS = 1_000
REQUEST_TIMEOUT = 30.0


# --- seeding ---------------------------------------------------------------------


@dataclasses.dataclass
class Seeded:
    tenant_id: str
    token: str
    user_ids: list[str]
    user_names: list[str]
    external_ids: list[str]
    group_ids: list[str]
    members: dict[str, list[str]]  # group id → member ids, as seeded
    member_pool: set[int]  # indexes of users that are in some group
    seconds: float


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _user_body(i: int, rng: random.Random) -> dict[str, Any]:
    given, family = f"Given{i}", f"Family{i % 9973}"
    return {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": f"user{i:06d}@example.com",
        # Shaped like an IdP's own object id (Okta "00u…", Entra a GUID).
        "externalId": f"00u{rng.getrandbits(80):020x}",
        "name": {"givenName": given, "familyName": family, "formatted": f"{given} {family}"},
        "displayName": f"{given} {family}",
        "emails": [{"value": f"user{i:06d}@example.com", "type": "work", "primary": True}],
        "active": rng.random() > 0.05,
        "title": "Engineer",
        ENTERPRISE_URN: {"employeeNumber": str(100_000 + i), "department": f"dept-{i % 40}"},
    }


def _group_body(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "schemas": [GROUP_URN],
        "displayName": f"Group {i:05d}",
        "externalId": f"00g{rng.getrandbits(80):020x}",
    }


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def seed(
    url: str, schema: str | None, key: bytes, n_users: int, n_groups: int, rng: random.Random
) -> Seeded:
    """Migrate, create a tenant and an idp token, then bulk-insert in one transaction."""
    started = time.perf_counter()
    registry = read_registry(data_dir("schemas"))
    user_type, group_type = registry.resource_type("User"), registry.resource_type("Group")
    db = Database(url, schema=schema, pool_size=2)
    try:
        await db.migrate()
        tenancy = Tenancy(db, key, SystemClock())
        tenant = await tenancy.create_tenant("bench")
        issued = await tenancy.issue_token(tenant.id, frozenset({Role.IDP}), "bench idp")

        base = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        user_rows, user_ids, user_names, external_ids = [], [], [], []
        for i in range(n_users):
            moment = base + dt.timedelta(milliseconds=10 * i)  # creation order = seq order
            body = _user_body(i, rng)
            draft = draft_create(
                body, user_type, tenant_id=tenant.id, resource_id=_uuid(rng), now=moment
            )
            user_rows.append(draft.resource)
            user_ids.append(draft.resource.id)
            user_names.append(body["userName"])
            external_ids.append(body["externalId"])
        group_rows, group_ids = [], []
        after_users = base + dt.timedelta(milliseconds=10 * n_users)
        for i in range(n_groups):
            moment = after_users + dt.timedelta(milliseconds=10 * i)
            draft = draft_create(
                _group_body(i, rng),
                group_type,
                tenant_id=tenant.id,
                resource_id=_uuid(rng),
                now=moment,
            )
            group_rows.append(draft.resource)
            group_ids.append(draft.resource.id)

        # Members come from every 4th user, so those users sit in a few groups each and
        # the rest are in none (left free for the PATCH scenario's fresh members).
        pool = list(range(0, n_users, 4))
        members: dict[str, list[str]] = {}
        member_rows = []
        for group_id in group_ids:
            chosen = rng.sample(pool, min(len(pool), rng.randint(0, MAX_GROUP_MEMBERS)))
            members[group_id] = [user_ids[u] for u in chosen]
            member_rows += [
                {
                    "tenant_id": tenant.id,
                    "group_id": group_id,
                    "member_id": user_ids[u],
                    "member_type": "User",
                    "display": None,  # what a client that sends no display leaves
                }
                for u in chosen
            ]

        # The store's own bulk insert: the same rows and counts a create writes.
        async with db.uow(write=True) as uow:
            for batch in _batches(user_rows + group_rows):
                await uow.of(tenant.id).resources.add_many(list(batch))
            await uow.commit()
        async with db.engine.begin() as connection:
            for batch in _batches(member_rows):
                await connection.execute(group_members.insert(), list(batch))
        if db.dialect == "postgresql":
            # What autovacuum does soon after a bulk load: statistics and the visibility map.
            async with db.engine.connect() as connection:
                auto = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for table in ("resources", "group_members"):
                    await auto.exec_driver_sql(f"VACUUM ANALYZE {table}")
    finally:
        await db.dispose()
    return Seeded(
        tenant_id=tenant.id,
        token=issued.plaintext,
        user_ids=user_ids,
        user_names=user_names,
        external_ids=external_ids,
        group_ids=group_ids,
        members=members,
        member_pool=set(pool),
        seconds=time.perf_counter() - started,
    )


# --- the server process ------------------------------------------------------------


# --- measuring ---------------------------------------------------------------------


class Failure(Exception):
    """A wrong answer: the numbers would mean nothing."""


@dataclasses.dataclass
class Result:
    name: str
    samples: list[float]  # seconds
    target_ms: float | None  # about the median

    def ms(self, q: float) -> float:
        data = sorted(self.samples)
        if len(data) == 1:
            return data[0] * 1000
        return statistics.quantiles(data, n=100, method="inclusive")[int(q) - 1] * 1000

    @property
    def median(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def max(self) -> float:
        return max(self.samples) * 1000

    @property
    def verdict(self) -> str:
        if self.target_ms is None:
            return "info"
        return "PASS" if self.median < self.target_ms else "FAIL"


def _url(base: str, path: str, params: dict[str, Any]) -> str:
    return f"{base}{path}?{urlencode(params, quote_via=quote)}"


def _timed(
    client: httpx.Client,
    requests: Sequence[tuple[str, str, bytes | None]],
    check: Callable[[int, httpx.Response], None],
    warmup: int,
) -> list[float]:
    """Send each (method, url, body) in turn; time the ones after ``warmup``, check them all."""
    samples: list[float] = []
    headers = {"Content-Type": "application/scim+json"}
    for index, (method, url, body) in enumerate(requests):
        started = time.perf_counter()
        response = client.request(method, url, content=body, headers=headers if body else None)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise Failure(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
        check(index, response)
        if index >= warmup:
            samples.append(elapsed)
    return samples


def run_scenarios(
    base: str, seeded: Seeded, rng: random.Random, n: int, patches: int
) -> list[Result]:
    results: list[Result] = []
    users, groups = len(seeded.user_ids), len(seeded.group_ids)
    auth = {"Authorization": f"Bearer {seeded.token}"}
    with httpx.Client(headers=auth, timeout=REQUEST_TIMEOUT) as client:
        verify(client, base, seeded, rng)
        # The seeded ids and names are many objects: keep the collector from pausing a timing.
        gc.collect()
        gc.freeze()

        def report(result: Result) -> None:
            results.append(result)
            print(
                f"  {result.name:<44} median {result.median:8.2f} ms  p95 {result.ms(95):8.2f}"
                f"  p99 {result.ms(99):8.2f}  max {result.max:8.2f}  ({len(result.samples)} timed)",
                flush=True,
            )

        def by_filter(attribute: str, values: list[str]) -> Result:
            picks = rng.sample(range(users), min(users, WARMUP + n))
            requests = [
                (
                    "GET",
                    _url(base, "/scim/v2/Users", {"filter": f'{attribute} eq "{values[i]}"'}),
                    None,
                )
                for i in picks
            ]

            def check(index: int, response: httpx.Response) -> None:
                found = response.json()
                if (
                    found["totalResults"] != 1
                    or found["Resources"][0]["id"] != seeded.user_ids[picks[index]]
                ):
                    raise Failure(f"{attribute} eq {values[picks[index]]!r}: {response.text[:300]}")

            return Result(
                f"Users?filter={attribute} eq", _timed(client, requests, check, WARMUP), 5
            )

        report(by_filter("userName", seeded.user_names))
        report(by_filter("externalId", seeded.external_ids))

        def page(endpoint: str, total: int, exclude: str, target: float | None) -> Result:
            last = max(1, total - 99)
            starts = [rng.randint(1, last) for _ in range(WARMUP + n)]
            requests = [
                (
                    "GET",
                    _url(
                        base,
                        f"/scim/v2/{endpoint}",
                        {"startIndex": s, "count": 100, "excludedAttributes": exclude},
                    ),
                    None,
                )
                for s in starts
            ]

            def check(index: int, response: httpx.Response) -> None:
                found = response.json()
                wanted = min(100, total - starts[index] + 1)
                if found["totalResults"] != total or len(found["Resources"]) != wanted:
                    raise Failure(f"{endpoint} page at {starts[index]}: {response.text[:300]}")

            name = f"{endpoint}?startIndex=N&count=100&excl={exclude}"
            return Result(name, _timed(client, requests, check, WARMUP), target)

        report(page("Users", users, "members", 25))
        report(page("Groups", groups, "members", 25))
        # members is no User attribute, so the page above still computes each User's groups.
        report(page("Users", users, "groups", None))
        report(cursor_pages(client, base, users, n))

        patched = patch_members(client, base, seeded, rng, patches)
        if patched is not None:
            report(patched)
    return results


def cursor_pages(client: httpx.Client, base: str, users: int, n: int) -> Result:
    """RFC 9865 cursor pages, following nextCursor from the first (keyset, no OFFSET)."""
    samples: list[float] = []
    cursor = ""
    for index in range(WARMUP + n):
        url = _url(
            base,
            "/scim/v2/Users",
            {"cursor": cursor, "count": 100, "excludedAttributes": "members"},
        )
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise Failure(f"GET {url} answered {response.status_code}: {response.text[:500]}")
        found = response.json()
        if found["totalResults"] != users or not found["Resources"]:
            raise Failure(f"cursor page {index}: {response.text[:300]}")
        cursor = found.get("nextCursor", "")  # past the last page: start again
        if index >= WARMUP:
            samples.append(elapsed)
    return Result("Users?cursor=…&count=100&excl=members", samples, None)


def verify(client: httpx.Client, base: str, seeded: Seeded, rng: random.Random) -> None:
    """One look through HTTP before any timing: the seeded rows read as the app's own."""
    i = rng.randrange(len(seeded.user_ids))
    for attribute, value in (
        ("userName", seeded.user_names[i]),
        ("userName", seeded.user_names[i].upper()),  # case-insensitive, via name_norm
        ("externalId", seeded.external_ids[i]),
    ):
        url = _url(base, "/scim/v2/Users", {"filter": f'{attribute} eq "{value}"'})
        found = client.get(url).json()
        if found.get("totalResults") != 1 or found["Resources"][0]["id"] != seeded.user_ids[i]:
            raise Failure(f"filter {attribute} eq {value!r} found {json.dumps(found)[:300]}")
    user = client.get(f"{base}/scim/v2/Users/{seeded.user_ids[i]}").json()
    if user.get("userName") != seeded.user_names[i] or user["meta"]["version"] != 'W/"1"':
        raise Failure(f"GET /Users/{seeded.user_ids[i]}: {json.dumps(user)[:300]}")
    group_id = max(seeded.members, key=lambda g: len(seeded.members[g]))
    group = client.get(f"{base}/scim/v2/Groups/{group_id}").json()
    if sorted(m["value"] for m in group.get("members", [])) != sorted(seeded.members[group_id]):
        raise Failure(f"GET /Groups/{group_id}: members differ from the seeded ones")
    member = client.get(f"{base}/scim/v2/Users/{seeded.members[group_id][0]}").json()
    if group_id not in {g["value"] for g in member.get("groups", [])}:
        raise Failure(f"User {member.get('id')} does not list its group {group_id}")


def patch_members(
    client: httpx.Client, base: str, seeded: Seeded, rng: random.Random, repeats: int
) -> Result | None:
    """Add 1,000 users that are in no group yet to each of ``repeats`` groups, one PATCH each."""
    warmup = 2
    free = [i for i in range(len(seeded.user_ids)) if i not in seeded.member_pool]
    rng.shuffle(free)
    rounds = min(warmup + repeats, len(free) // PATCH_MEMBERS, len(seeded.group_ids))
    if rounds <= warmup:
        print(f"  (PATCH skipped: too few users in no group for {PATCH_MEMBERS}-member PATCHes)")
        return None
    targets = rng.sample(seeded.group_ids, rounds)
    requests, added = [], []
    for r, group_id in enumerate(targets):
        new = [seeded.user_ids[u] for u in free[r * PATCH_MEMBERS : (r + 1) * PATCH_MEMBERS]]
        added.append(new)
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in new]}],
        }
        url = _url(base, f"/scim/v2/Groups/{group_id}", {"excludedAttributes": "members"})
        requests.append(("PATCH", url, json.dumps(body).encode()))

    def check(index: int, response: httpx.Response) -> None:
        if "members" in response.json():
            raise Failure("PATCH with excludedAttributes=members returned members")

    samples = _timed(client, requests, check, warmup)
    # Once, untimed: the members really landed, next to the seeded ones.
    group_id = targets[-1]
    group = client.get(f"{base}/scim/v2/Groups/{group_id}", params={"attributes": "members"})
    stored = {m["value"] for m in group.json().get("members", [])}
    if stored != set(seeded.members[group_id]) | set(added[-1]):
        raise Failure(f"after the PATCH, Group {group_id} has {len(stored)} members")
    return Result(f"PATCH Group +{PATCH_MEMBERS} members", samples, 1000)


# --- query plans (--explain) -------------------------------------------------------------


async def explain(url: str, schema: str | None, key: bytes, seeded: Seeded) -> None:
    """The SQL the app runs for each read scenario (captured from its own Reader), and its plan."""
    registry = read_registry(data_dir("schemas"))
    db = Database(url, schema=schema, pool_size=2)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    reader = Reader(db, registry, key, SystemClock())
    mid_user = len(seeded.user_ids) // 2
    cases = [
        ("User", {"filter": f'userName eq "{seeded.user_names[mid_user]}"'}),
        ("User", {"filter": f'externalId eq "{seeded.external_ids[mid_user]}"'}),
        ("User", {"startindex": str(mid_user), "count": "100", "excludedattributes": "members"}),
        ("Group", {"startindex": str(len(seeded.group_ids) // 2), "count": "100",
                   "excludedattributes": "members"}),
    ]  # fmt: skip
    postgres = db.dialect == "postgresql"
    prefix = "EXPLAIN (ANALYZE, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    try:
        for type_name, params in cases:
            print(f"\n### {type_name}s {params}")
            resource_type = registry.resource_type(type_name)
            captured.clear()
            try:  # the app's read API, as its handler calls it
                query = read_list_query(params, resource_type, default_count=100, max_count=1000)
                await reader.search(seeded.tenant_id, resource_type, query)
            except Exception as exc:  # the plans are extra; never lose the numbers over them
                print(f"(cannot run this read in-process: {type(exc).__name__}: {exc})")
                continue
            statements = list(captured)
            async with db.engine.connect() as connection:
                for statement, parameters in statements:
                    best = float("inf")
                    for _ in range(3):
                        started = time.perf_counter()
                        await connection.exec_driver_sql(statement, parameters)
                        best = min(best, time.perf_counter() - started)
                    plan = (await connection.exec_driver_sql(prefix + statement, parameters)).all()
                    print(f"\n{' '.join(statement.split())[:600]}")
                    print(f"-- params {str(parameters)[:200]}")
                    print(f"-- {best * 1000:.2f} ms in-process (best of 3)")
                    if postgres:
                        # asyncpg prepares each statement once per connection, as in the server;
                        # after five runs PostgreSQL may keep a generic plan for every value.
                        plans = await connection.exec_driver_sql(
                            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                            " WHERE statement = $1",
                            (statement,),
                        )
                        for generic, custom in plans:
                            print(
                                f"-- prepared statement so far: {generic} generic, {custom} custom"
                            )
                    for row in plan:
                        print("   ", row[-1])
    finally:
        await db.dispose()


# --- PostgreSQL schema -------------------------------------------------------------------


async def _pg(url: str, statement: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


# --- the run -------------------------------------------------------------------------------


def print_table(results: list[Result], backend: str, header: dict[str, str]) -> None:
    print("\n## Results\n")
    for key, value in header.items():
        print(f"- {key}: {value}")
    print()
    print(f"| scenario ({backend}) | n | median ms | p95 ms | p99 ms | max ms | target | result |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        target = f"< {r.target_ms:g} ms" if r.target_ms is not None else "—"
        print(
            f"| `{r.name}` | {len(r.samples)} | {r.median:.2f} | {r.ms(95):.2f} | {r.ms(99):.2f}"
            f" | {r.max:.2f} | {target} | {r.verdict} |"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a fresh schema)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per GET scenario")
    parser.add_argument("--patches", type=int, default=10, help="timed 1,000-member PATCHes")
    parser.add_argument("--seed", type=int, default=7, help="random seed (data and requests)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temp dir (SQLite file, server log) and the PostgreSQL schema",
    )
    parser.add_argument("--explain", action="store_true", help="print the read queries' plans")
    args = parser.parse_args()
    if args.users < 100 or args.groups < 100:
        parser.error("--users and --groups must be at least 100 (one full page)")
    if min(args.requests, args.patches) < 1:
        parser.error("--requests and --patches must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    stop_on_signals()
    rng = random.Random(args.seed)
    key = secrets.token_urlsafe(48).encode()
    workdir = Path(tempfile.mkdtemp(prefix="tenure-bench-"))
    schema = f"bench_{secrets.token_hex(6)}" if args.postgres else None
    backend = "postgres" if args.postgres else "sqlite"
    url = args.postgres or f"sqlite:///{workdir}/tenure.db"
    header = {
        "command": f"`{command_line()}`",
        "python": platform.python_version(),
        "nproc": str(os.cpu_count()),
        "machine": f"{platform.system()} {platform.machine()}",
        "load average at start": load(),
    }
    schema_made = False
    try:
        if args.postgres:
            version = asyncio.run(_pg(args.postgres, f'CREATE SCHEMA "{schema}"'))
            schema_made = True
            fate = "kept" if args.keep else "dropped after"
            header["database"] = f"PostgreSQL {version}, schema {schema} ({fate})"
        else:
            header["database"] = f"SQLite {sqlite3.sqlite_version}, {workdir}/tenure.db"
        print(f"seeding {args.users:,} Users and {args.groups:,} Groups ({backend}) …", flush=True)
        seeded = asyncio.run(seed(url, schema, key, args.users, args.groups, rng))
        memberships = sum(len(m) for m in seeded.members.values())
        header["data"] = (
            f"{args.users:,} Users, {args.groups:,} Groups, {memberships:,} memberships, one tenant"
        )
        header["seeding"] = f"{seeded.seconds:.1f} s (migrate + bulk insert, one transaction)"
        print(f"seeded in {seeded.seconds:.1f} s", flush=True)

        env = {"TENURE_DATABASE_URL": url, "TENURE_SECRET_KEY": key.decode()}
        if schema:
            env["TENURE_DATABASE_SCHEMA"] = schema
        with Server(env, workdir) as server:
            print(
                f"`tenure serve` (pid {server.pid}) on {server.base}; measuring …",
                flush=True,
            )
            try:
                results = run_scenarios(server.base, seeded, rng, args.requests, args.patches)
            except Failure:
                print(f"server log:\n{server.log_tail()}", file=sys.stderr)
                raise
        if args.explain:
            asyncio.run(explain(url, schema, key, seeded))
        # Client and server share the machine's cores: other work on it shows up in the numbers.
        header["load average at end"] = load()
        print_table(results, backend, header)
        return 0
    except Failure as exc:
        print(f"wrong answer, no numbers: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"\nkept {workdir}", file=sys.stderr)
            if schema_made:
                print(
                    f'kept schema "{schema}"; later: DROP SCHEMA "{schema}" CASCADE',
                    file=sys.stderr,
                )
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            if schema_made:
                assert args.postgres is not None
                asyncio.run(_pg(args.postgres, f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    sys.exit(main())
