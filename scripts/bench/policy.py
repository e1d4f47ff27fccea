#!/usr/bin/env python3
"""Cedar policy cost: one decision in process, and policies' share of a ``POST /Agents``.

    .venv/bin/python scripts/bench/policy.py [--decisions N] [--requests N] [--rounds N]

1. In process: the median, p95 and p99 of one ``PolicyEngine.decide`` (entity
   building included) with the shipped set, over the writes clients make —
   directory updates, agents registered with and without a parent, an update,
   a renewal, a denial — each case's median printed too.
   Target: median under 200 µs.
2. End to end: two servers side by side, each in its own process on its own
   SQLite database, served by uvicorn with uvloop and httptools — one as
   shipped, one with the decide step taken out (a stand-in judge that allows
   everything without loading anything). One keep-alive client sends
   ``POST /Agents`` to each in alternating rounds, so machine noise hits both
   alike. Policies' share = (on − off) / on of the median request time.
   Target: under 15 %.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _pathfix  # noqa: F401  (first: this folder's http.py is not the standard library's)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.config import data_dir  # noqa: E402
from app.domain.actor import Actor, Role  # noqa: E402
from app.main import lifetimes_of  # noqa: E402
from app.policy.engine import PolicyEngine  # noqa: E402
from app.policy.proposal import Identity, Party, Proposal  # noqa: E402

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
KEY = "policy-benchmark-secret-key-0123456789abcdef"


# --- 1. one decision, in process ------------------------------------------------------


def _cases(now: dt.datetime) -> list[tuple[str, Actor, Proposal]]:
    """The writes clients make, from the plainest to the heaviest for Cedar."""
    from app.config import Settings

    limits = lifetimes_of(Settings(secret_key=KEY.encode())).limits
    owner = Party(id="u1", resource_type="User", active=True, entitlements=("repo:read",))
    team = Party(id="g1", resource_type="Group", active=True)
    root = Identity(
        id="r", resource_type="Agent", tenant_id="t", created=now, governed=True, kind="agent",
        purpose="ci", expires_at=now + dt.timedelta(days=60),
        hard_expires_at=now + dt.timedelta(days=700), scopes=("repo:read",), owners=(owner,),
        registered_by="k",
    )  # fmt: skip
    renewed = Identity(
        **{f: getattr(root, f) for f in root.__struct_fields__}
        | {"last_attested_at": now, "expires_at": now + dt.timedelta(days=80)}
    )
    child = Identity(
        id="c", resource_type="Agent", tenant_id="t", created=now, governed=True, kind="agent",
        purpose="ci", expires_at=now + dt.timedelta(days=30),
        hard_expires_at=now + dt.timedelta(days=700), scopes=("repo:read",),
        owners=(owner, team), registered_by="k", parent=root,
    )  # fmt: skip
    user = Identity(id="u", resource_type="User", tenant_id="t", created=now)
    group = Identity(id="g", resource_type="Group", tenant_id="t", created=now)

    def actor(role: Role) -> Actor:
        return Actor(token_id="k", name="bench", roles=frozenset({role}), tenant_id="t")

    def write(actions: tuple[str, ...], identity: Identity, **extra: Any) -> Proposal:
        return Proposal(actions=actions, identity=identity, limits=limits, **extra)

    platform = actor(Role.PLATFORM)
    return [
        ("IdP updates a User", actor(Role.IDP), write(("update",), user, before=user)),
        ("IdP creates a Group", actor(Role.IDP), write(("create",), group)),
        ("platform registers an agent", platform, write(("create",), root)),
        ("platform updates an agent", platform, write(("update",), root, before=root)),
        ("platform registers a child agent", platform, write(("create",), child, depth=2)),
        ("platform renews an agent", platform, write(("attest", "extend"), renewed, before=root)),
        ("auditor's delete, denied", actor(Role.AUDITOR), write(("delete",), root)),
    ]


def bench_decisions(count: int) -> tuple[dict[str, float], list[tuple[str, float]]]:
    engine = PolicyEngine.load(data_dir("policies"))
    now = dt.datetime.now(dt.UTC)
    cases = _cases(now)
    for _ in range(300):  # warm up
        for _, who, proposal in cases:
            engine.decide(who, proposal, now)
    gc.freeze()
    samples: list[float] = []
    by_case: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for i in range(count):
        name, who, proposal = cases[i % len(cases)]
        started = time.perf_counter()
        engine.decide(who, proposal, now)
        elapsed = (time.perf_counter() - started) * 1e6
        samples.append(elapsed)
        by_case[name].append(elapsed)
    samples.sort()
    overall = {
        "median": statistics.median(samples),
        "p95": samples[int(len(samples) * 0.95)],
        "p99": samples[int(len(samples) * 0.99)],
    }
    return overall, [(name, statistics.median(times)) for name, times in by_case.items()]


# --- 2. POST /Agents with and without the decide step -----------------------------------


class _AllowAll:
    """Stand-in judge for the 'off' server: no facts loaded, no Cedar call.

    It still writes the change's audit event, which is not a policy cost.
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def decide(
        self, uow: Any, actor: Any, kind: str, before: Any, after: Any, *, now: Any,
        changed: Any = (), owners: Any = None, reason: str = "request",
    ) -> Any:  # fmt: skip
        from app.audit.events import event
        from app.policy.engine import Decision

        await uow.audit.append(
            event(
                actor,
                actions=(kind,),
                before=before,
                after=after,
                changed=changed,
                allowed=True,
                policy_ids=(),
                at=now,
                reason=reason,
            )
        )
        return Decision(allowed=True, actions=(kind,))

    async def decide_subtree(self, *args: Any, **kwargs: Any) -> None:
        return None


def _settings(database: Path) -> Any:
    from app.config import from_env

    return from_env({"TENURE_DATABASE_URL": f"sqlite:///{database}", "TENURE_SECRET_KEY": KEY})


async def _prepare(database: Path) -> str:
    """Migrate, create a tenant, an owner and a platform token; the token's plaintext."""
    from app.domain.actor import Role as R
    from app.domain.clock import SystemClock
    from app.main import build_services
    from app.provisioning.commands import Mutation, MutationKind

    services = build_services(_settings(database), SystemClock())
    try:
        await services.db.migrate()
        tenant = await services.tenancy.create_tenant("bench")
        idp = await services.tenancy.issue_token(tenant.id, frozenset({R.IDP}), "idp")
        owner = await services.provisioning.run(
            Mutation(
                kind=MutationKind.CREATE,
                actor=Actor(token_id=idp.token.id, name="idp", roles=frozenset({R.IDP}),
                            tenant_id=tenant.id),
                resource_type="User",
                body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                      "userName": "owner@example.com"},
            )
        )  # fmt: skip
        assert owner is not None
        issued = await services.tenancy.issue_token(
            tenant.id, frozenset({R.PLATFORM}), "platform", owner_id=owner.id, purpose="bench"
        )
        return issued.plaintext
    finally:
        await services.db.dispose()


def serve(port: int, database: Path, policies: bool) -> None:
    """Child process: one server, policies on or off; prints its token, then serves."""
    import uvicorn

    from app.main import create_app

    token = asyncio.run(_prepare(database))
    app = create_app(_settings(database))
    if not policies:
        services = app.state.services
        services.provisioning.judge = _AllowAll(services.policies.engine)
    print(json.dumps({"token": token}), flush=True)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False,
        loop="uvloop", http="httptools",
    )  # fmt: skip
    uvicorn.Server(config).run()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server:
    def __init__(self, workdir: Path, policies: bool) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port),
             "--database", str(workdir / f"{'on' if policies else 'off'}.db"),
             "--policies", "on" if policies else "off"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        self.token = json.loads(line)["token"]
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bench_requests(requests: int, rounds: int) -> dict[str, float]:
    import httpx

    with tempfile.TemporaryDirectory() as scratch:
        servers = {"on": _Server(Path(scratch), True), "off": _Server(Path(scratch), False)}
        try:
            clients = {
                name: httpx.Client(
                    base_url=s.base,
                    headers={
                        "Authorization": f"Bearer {s.token}",
                        "Content-Type": "application/scim+json",
                    },
                    timeout=30,
                )
                for name, s in servers.items()
            }
            for name, client in clients.items():  # wait until both answer, then warm up
                deadline = time.monotonic() + 30
                while True:
                    try:
                        client.get("/healthz")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)
                for i in range(50):
                    _post(client, f"warm-{name}-{i}")
            samples: dict[str, list[float]] = {"on": [], "off": []}
            per_round = max(1, requests // rounds)
            for r in range(rounds):
                order = ("on", "off") if r % 2 == 0 else ("off", "on")
                for name in order:
                    for i in range(per_round):
                        started = time.perf_counter()
                        _post(clients[name], f"agent-{r}-{i}")
                        samples[name].append((time.perf_counter() - started) * 1e3)
            for client in clients.values():
                client.close()
        finally:
            for server in servers.values():
                server.stop()
    on, off = statistics.median(samples["on"]), statistics.median(samples["off"])
    return {"on": on, "off": off, "share": (on - off) / on * 100, "count": len(samples["on"])}


def _post(client: Any, name: str) -> None:
    response = client.post("/scim/v2/Agents", json={"schemas": [AGENT], "name": name})
    if response.status_code != 201:
        raise RuntimeError(f"POST /Agents answered {response.status_code}: {response.text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000, help="POST /Agents per server")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--policies", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, Path(args.database), args.policies == "on")
        return 0
    decision, cases = bench_decisions(args.decisions)
    http = bench_requests(args.requests, args.rounds)
    print(
        f"- command: `.venv/bin/python scripts/bench/policy.py --decisions {args.decisions} "
        f"--requests {args.requests} --rounds {args.rounds}`"
    )
    print(f"- python {platform.python_version()}, nproc {os.cpu_count()}")
    print("| measure | median | p95 | p99 | target | result |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    verdict = "PASS" if decision["median"] < 200 else "FAIL"
    print(
        f"| one decision, {args.decisions} in process | {decision['median']:.1f} µs "
        f"| {decision['p95']:.1f} µs | {decision['p99']:.1f} µs | < 200 µs | {verdict} |"
    )
    for name, median in cases:
        print(f"| — {name} | {median:.1f} µs | | | | |")
    print(f"| POST /Agents, policies on ({http['count']}) | {http['on']:.2f} ms | | | | |")
    print(f"| POST /Agents, policies off ({http['count']}) | {http['off']:.2f} ms | | | | |")
    verdict = "PASS" if http["share"] < 15 else "FAIL"
    print(f"| policies' share of POST /Agents | {http['share']:.1f} % | | | < 15 % | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
