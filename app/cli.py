"""The ``tenure`` command: serve, onboard, report, audit and the operator's other tools.

``token issue`` prints the token alone on stdout (so a script can capture it)
and everything else on stderr; ``onboard`` prints what a person follows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from app.audit.chain import AuditTrail
from app.config import ConfigError, Settings, from_env, public_base, public_url_warning
from app.domain.actor import Actor, Restrictions, Role, parse_roles
from app.domain.clock import SystemClock
from app.domain.durations import parse_duration
from app.provisioning.tenancy import Tenancy
from app.scim.errors import ScimError
from app.store.uow import Database


def _say(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


async def _with_db(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    db = Database(settings.database_url, schema=settings.database_schema, pool_size=2)
    try:
        return await work(db)
    finally:
        # What the command wrote to the audit trail is linked into the chain before it
        # exits, as a server does at shutdown (a database not yet migrated has no trail).
        if (await db.ready())[0]:
            await AuditTrail(db, SystemClock()).sequence()
        await db.dispose()


async def _ready_tenancy(db: Database, settings: Settings) -> Tenancy:
    ready, detail = await db.ready()
    if not ready:
        raise ScimError(f"{detail}; run 'tenure migrate' first")
    return Tenancy(db, settings.secret_key, SystemClock())


def cmd_serve(settings: Settings, _args: argparse.Namespace) -> int:
    import uvicorn

    from app.api.logs import configure_logging
    from app.main import create_app

    configure_logging(settings.log_level)
    if (warning := public_url_warning(settings)) is not None:
        logging.getLogger("tenure").warning(warning)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=15,
    )
    uvicorn.Server(config).run()  # stops gracefully on SIGTERM / SIGINT
    return 0


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        await db.migrate()
        _say("database is at the newest migration")
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    """First start only: a demo tenant filled with a realistic set, and one admin token."""
    from app.main import build_services
    from app.provisioning.demo import seed

    async def work(db: Database) -> int:
        created = await (await _ready_tenancy(db, settings)).ensure_demo()
        if created is None:
            return 0
        tenant, issued = created
        clock = SystemClock()
        services = build_services(settings, clock)
        try:
            actor = await services.tenancy.authenticate(issued.plaintext)
            assert actor is not None
            counts = await seed(services.provisioning, actor, clock.now())
        finally:
            await services.db.dispose()
        base = public_base(settings)
        filled = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in counts.items())
        _say(
            "",
            f"Created tenant '{tenant.name}' with {filled}:",
            "  agents with a delegated child, service accounts, two expiring within",
            "  ten days and one orphaned (its owner left). Try:",
            f"    curl -H 'Authorization: Bearer <token>' '{base}/scim/v2/Agents'",
            f"  SCIM base URL: {base}/scim/v2",
            f"  Admin token (shown once; keep it): {issued.plaintext}",
            "  Issue more with: tenure token issue --tenant demo --role idp --name okta",
            "",
        )
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_tenant(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        tenancy = await _ready_tenancy(db, settings)
        if args.action == "create":
            tenant = await tenancy.create_tenant(args.name)
            print(f"{tenant.id}\t{tenant.name}")
        else:
            for tenant in await tenancy.tenants():
                print(f"{tenant.id}\t{tenant.name}\t{tenant.created.isoformat()}")
        return 0

    return asyncio.run(_with_db(settings, work))


def _console() -> Actor:
    """Who the audit log names for what is done here: the operator at this machine."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(
        token_id="console",
        name=f"console ({who})",
        roles=frozenset({Role.OPERATOR}),
        tenant_id=None,
    )


def _ask(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def cmd_onboard(settings: Settings, args: argparse.Namespace) -> int:
    """``onboard``: a tenant, its provider profile and tokens, what to paste where; then wait
    for the identity provider's first successful request."""
    from app.domain.providers import PROFILES, instructions, lines
    from app.main import build_services

    interactive = sys.stdin is not None and sys.stdin.isatty()
    tenant_name, provider = args.tenant, args.provider
    if interactive and tenant_name is None:
        tenant_name = _ask("Tenant name (lower-case, e.g. acme)", "")
    if interactive and provider is None:
        provider = _ask(f"Identity provider ({', '.join(PROFILES)})", "generic")
    if not tenant_name:
        _say("error: --tenant is required (or run 'tenure onboard' at a terminal)")
        return 2

    async def work(db: Database) -> int:
        await _ready_tenancy(db, settings)
        services = build_services(settings, SystemClock())
        try:
            since = services.clock.now()
            tenant, issued = await services.tenancy.onboard(
                tenant_name,
                provider or "generic",
                platform=not args.no_platform,
                admin=not args.no_admin,
                actor=_console(),
            )
            profile = PROFILES[tenant.settings.identity_provider or "generic"]
            base = public_base(settings)
            idp = issued["identityProvider"]
            steps = instructions(profile, f"{base}/scim/v2", idp.plaintext)
            print(f"Tenant {tenant.name} ({tenant.id}) is ready for {profile.title}.")
            if (warning := public_url_warning(settings)) is not None:
                print(f"Note: {warning}.")
            print(f"Identity provider token (shown once): {idp.plaintext}")
            if "platform" in issued:
                print(f"Agent platform token (shown once):    {issued['platform'].plaintext}")
            if "admin" in issued:
                print(f"Tenant admin token (shown once):      {issued['admin'].plaintext}")
            print()
            print("\n".join(lines(steps)))
            print(f"\nConnection report: GET {base}/admin/tenants/{tenant.id}/connection")
            if args.wait <= 0:
                return 0
            print(f"\nWaiting up to {args.wait:g} s for the first request from {profile.title}…",
                  flush=True)  # fmt: skip
            first = await services.connections.first_success(
                tenant.id, idp.token.id, since, timeout=args.wait
            )
        finally:
            await services.db.dispose()
        if first is None:
            print("No successful request yet: check the URL and token, then the connection "
                  "report.")  # fmt: skip
            return 1
        print(f"First request: {first.method} {first.path} → {first.status} at "
              f"{first.at.isoformat()}")  # fmt: skip
        return 0

    return asyncio.run(_with_db(settings, work))


def _duration(text: str, option: str) -> dt.timedelta:
    """An option's duration, or the one-line error ``main`` prints (never a traceback)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ScimError(f"{option}: {exc}") from None


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    # Arguments are checked before the database is touched.
    expires_in = None
    if getattr(args, "expires_in", None):
        expires_in = _duration(args.expires_in, "--expires-in")

    async def work(db: Database) -> int:
        tenancy = await _ready_tenancy(db, settings)
        if args.operator == bool(args.tenant):
            raise ScimError("name exactly one of --tenant NAME or --operator")
        tenant_id = (await tenancy.tenant(args.tenant)).id if args.tenant else None
        if args.action == "issue":
            try:
                roles = (
                    frozenset({Role.OPERATOR}) if args.operator else parse_roles(args.role or [])
                )
                restrictions = Restrictions.named(args.kinds, args.environments, args.agent)
            except ValueError as exc:
                raise ScimError(str(exc)) from None
            issued = await tenancy.issue_token(
                tenant_id,
                roles,
                args.name,
                expires_in,
                owner_id=args.owner,
                purpose=args.purpose,
                restrictions=restrictions,
                actor=_console(),
            )
            _say(f"issued token {issued.token.id} ({','.join(sorted(roles))}); shown once:")
            print(issued.plaintext)
        elif args.action == "list":
            for token in await tenancy.tokens(tenant_id):
                state = "revoked" if token.revoked_at else "active"
                expires = token.expires_at.isoformat() if token.expires_at else "never"
                used = token.last_used_at.isoformat() if token.last_used_at else "never"
                roles = ",".join(sorted(token.roles))
                reach = token.restrictions
                limits = "".join(
                    f"\t{label}={value}"
                    for label, value in (
                        ("kinds", ",".join(sorted(reach.kinds))),
                        ("environments", ",".join(sorted(reach.environments))),
                        ("agent", reach.agent_id or ""),
                    )
                    if value
                )
                print(
                    f"{token.id}\t{token.name}\t{roles}\t{state}\texpires={expires}"
                    f"\tlast_used={used}{limits}"
                )
        else:
            await tenancy.revoke_token(tenant_id, args.token_id, actor=_console())
            _say(f"revoked token {args.token_id}")
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_policy(settings: Settings, args: argparse.Namespace) -> int:
    """``policy validate``: the set parses and validates; ``policy test FILE``: scenarios pass."""
    from pathlib import Path

    from app.policy import scenarios
    from app.policy.engine import PolicyEngine, PolicyError

    directory = Path(args.dir) if args.dir else settings.policies_path
    try:
        engine = PolicyEngine.load(directory)
    except (PolicyError, OSError) as exc:
        _say(f"invalid policy set in {directory}: {exc}")
        return 2
    if args.action == "validate":
        _say(f"policy set in {directory} is valid")
        return 0
    try:
        loaded = scenarios.read(Path(args.file).read_bytes())
    except (ValueError, OSError) as exc:
        _say(f"error: {exc}")
        return 2
    from app.main import lifetimes_of

    outcomes = scenarios.run(engine, loaded, SystemClock().now(), lifetimes_of(settings).limits)
    for outcome in outcomes:
        mark = "ok  " if outcome.passed else "FAIL"
        print(
            f"{mark} {outcome.scenario.name} — expected {outcome.scenario.expect}, {outcome.detail}"
        )
    failed = sum(not o.passed for o in outcomes)
    print(f"{len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


def cmd_sweep(settings: Settings, args: argparse.Namespace) -> int:
    """``sweep --once``: one lifecycle sweep from here, with progress, then what it did."""
    from app.lifecycle.sweeper import Outcome
    from app.main import build_services, sweeper_of

    if not args.once:
        _say("error: the scheduler sweeps inside 'tenure serve'; use --once for one sweep here")
        return 2

    async def work(db: Database) -> int:
        tenancy = await _ready_tenancy(db, settings)
        tenant_id = (await tenancy.tenant(args.tenant)).id if args.tenant else None
        services = build_services(settings, SystemClock())
        try:
            sweeper = sweeper_of(settings, services)
            seen = [0, 0]

            def progress(outcome: Outcome) -> None:
                seen[0 if outcome.done else 1] += 1
                verb = "would settle" if args.dry_run else "settled"
                print(f"\r{verb} {seen[0]}, left {seen[1]}", end="", file=sys.stderr, flush=True)

            outcomes = await sweeper.sweep(
                tenant_id=tenant_id, dry_run=args.dry_run, progress=progress
            )
        finally:
            await services.db.dispose()
        if outcomes:
            print(file=sys.stderr)
        for o in outcomes:
            state = ("would " if args.dry_run else "") + o.action if o.done else "left alone"
            why = f"\t{o.detail}" if o.detail else ""
            print(f"{o.resource_type}\t{o.resource_id}\t{state}\t{o.reason}{why}")
        done = sum(o.done for o in outcomes)
        verb = "would be settled" if args.dry_run else "settled"
        _say(f"{done} {verb}, {len(outcomes) - done} left alone")
        return 0

    return asyncio.run(_with_db(settings, work))


def _table(columns: list[str], lines: list[list[Any]], *, header: bool) -> None:
    """Aligned columns for a person at a terminal (long cells cut at 40 characters)."""
    cells = [[("" if c is None else str(c))[:40] for c in line] for line in lines]
    rows = [columns, *cells] if header else cells
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    """``report ownership|expiring|orphans|summary``: what an auditor reads, from here."""
    import csv
    import json

    from app.main import build_services
    from app.reports import views

    within = _duration(args.within, "--within")

    async def work(db: Database) -> int:
        tenant_id = (await (await _ready_tenancy(db, settings)).tenant(args.tenant)).id
        services = build_services(settings, SystemClock())
        writer = csv.writer(sys.stdout, lineterminator="\n")
        try:
            if args.report == "summary":
                found = await services.reports.summary(tenant_id)
                if args.format == "json":
                    print(json.dumps(found, indent=2))
                elif args.format == "csv":
                    writer.writerows([views.SUMMARY, *views.summary_cells(found)])
                else:
                    _table(views.SUMMARY, views.summary_cells(found), header=True)
                return 0
            reports = services.reports
            if args.report == "ownership":
                listing = reports.ownership(tenant_id, owner=args.owner)
            elif args.report == "expiring":
                listing = reports.expiring(tenant_id, within)
            else:
                listing = reports.orphans(tenant_id)
            if args.format == "json":
                async for items in listing.items():  # one JSON object per line
                    for item in items:
                        print(json.dumps(item))
                return 0
            first = True
            async for lines in listing.lines():
                if args.format == "csv":
                    writer.writerows([listing.columns, *lines] if first else lines)
                else:
                    _table(listing.columns, lines, header=first)
                first = False
            if first and args.format == "csv":
                writer.writerow(listing.columns)
            return 0
        finally:
            await services.db.dispose()

    return asyncio.run(_with_db(settings, work))


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    """``audit verify``: walk a tenant's hash chain; exit 1 if it is broken."""
    from app.audit.chain import AuditTrail

    async def work(db: Database) -> int:
        tenant_id = (await (await _ready_tenancy(db, settings)).tenant(args.tenant)).id
        result = await AuditTrail(db, SystemClock()).verify(tenant_id)
        if result.ok:
            print(f"ok: {result.events} events verify (seq {result.first_seq}–{result.last_seq})")
            return 0
        print(f"broken at seq {result.broken_at}: {result.problem}")
        return 1

    return asyncio.run(_with_db(settings, work))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tenure", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve HTTP on TENURE_HOST:TENURE_PORT").set_defaults(
        run=cmd_serve
    )
    commands.add_parser("migrate", help="bring the database to the newest schema").set_defaults(
        run=cmd_migrate
    )
    commands.add_parser(
        "demo", help="on an empty database, create tenant 'demo' and print an admin token"
    ).set_defaults(run=cmd_demo)

    tenant = commands.add_parser("tenant", help="create and list tenants").add_subparsers(
        dest="action", required=True
    )
    create = tenant.add_parser("create")
    create.add_argument("name")
    create.set_defaults(run=cmd_tenant)
    tenant.add_parser("list").set_defaults(run=cmd_tenant)

    policy = commands.add_parser("policy", help="validate policies, run scenarios").add_subparsers(
        dest="action", required=True
    )
    for action in ("validate", "test"):
        sub = policy.add_parser(action)
        sub.add_argument(
            "--dir", help="policy directory (default: TENURE_POLICIES_DIR or built in)"
        )
        if action == "test":
            sub.add_argument("file", help="a JSON scenario file, e.g. policies/scenarios.json")
        sub.set_defaults(run=cmd_policy)

    sweep = commands.add_parser("sweep", help="suspend and tear down what is due")
    sweep.add_argument("--once", action="store_true", help="run one sweep and exit")
    sweep.add_argument("--dry-run", action="store_true", help="say what would be done")
    sweep.add_argument("--tenant", help="only this tenant (name or id)")
    sweep.set_defaults(run=cmd_sweep)

    onboard = commands.add_parser(
        "onboard", help="a customer in one step: tenant, provider profile, tokens, setup"
    )
    onboard.add_argument("--tenant", help="the new tenant's name (asked for at a terminal)")
    onboard.add_argument("--provider", help="okta, entra, google, onelogin, jumpcloud, …")
    onboard.add_argument("--no-platform", action="store_true", help="no agent platform token")
    onboard.add_argument("--no-admin", action="store_true", help="no tenant admin token")
    onboard.add_argument(
        "--wait", type=float, default=0, help="seconds to wait for the first request (0: none)"
    )
    onboard.set_defaults(run=cmd_onboard)
    report = commands.add_parser("report", help="auditor reports: who owns what, and more")
    report.add_argument("report", choices=("ownership", "expiring", "orphans", "summary"))
    report.add_argument("--tenant", required=True, help="tenant name or id")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--within", default="P30D", help="expiring: the window, e.g. P30D")
    report.add_argument("--owner", help="ownership: only this User or Group id")
    report.set_defaults(run=cmd_report)
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="action", required=True
    )
    verify = audit.add_parser("verify", help="walk a tenant's hash chain")
    verify.add_argument("--tenant", required=True, help="tenant name or id")
    verify.set_defaults(run=cmd_audit)
    token = commands.add_parser(
        "token", help="issue, list and revoke bearer tokens"
    ).add_subparsers(dest="action", required=True)
    for action in ("issue", "list", "revoke"):
        sub = token.add_parser(action)
        sub.add_argument("--tenant", help="tenant name or id")
        sub.add_argument("--operator", action="store_true", help="operator tokens (no tenant)")
        sub.set_defaults(run=cmd_token)
        if action == "issue":
            sub.add_argument(
                "--role",
                action="append",
                help="idp, platform, auditor or admin; repeat or comma-separate for several",
            )
            sub.add_argument("--name", required=True, help="a label, e.g. the client's name")
            sub.add_argument("--expires-in", help="e.g. 90d, 12h or P90D; default: no expiry")
            sub.add_argument(
                "--owner", help="User or Group id accountable for identities the token registers"
            )
            sub.add_argument("--purpose", help="default purpose of identities it registers")
            sub.add_argument(
                "--kinds", help="NHI kinds it may manage, e.g. agent,bot (default: any)"
            )
            sub.add_argument("--environments", help="environments it may manage (default: any)")
            sub.add_argument("--agent", help="the Agent id this token is the credential of")
        if action == "revoke":
            sub.add_argument("token_id")
    return root


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = from_env(environ)
        run: Callable[[Settings, Any], int] = args.run
        return run(settings, args)
    except (ScimError, ConfigError) as exc:
        _say(f"error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
