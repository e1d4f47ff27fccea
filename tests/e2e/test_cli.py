"""The ``tenure`` command, in process, against a fresh database on each backend."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from app.cli import main
from app.config import Settings, from_env
from app.main import create_app
from tests.conftest import SECRET_KEY


@pytest.fixture
def env(empty_settings: Settings) -> dict[str, str]:
    environ = {
        "TENURE_DATABASE_URL": empty_settings.database_url,
        "TENURE_SECRET_KEY": SECRET_KEY.decode(),
        # The CLI revokes in another "process" than the app under test; a
        # replica would see it within TENURE_TOKEN_CACHE_SECONDS, here at once.
        "TENURE_TOKEN_CACHE_SECONDS": "0",
        # The apps built here to look at the results need no sweeper of their own.
        "TENURE_SCHEDULER": "off",
    }
    if empty_settings.database_schema:
        environ["TENURE_DATABASE_SCHEMA"] = empty_settings.database_schema
    return environ


def run(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str
) -> tuple[int, str, str]:
    code = main(list(argv), env)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_commands_refuse_an_unmigrated_database(capsys: Any, env: dict[str, str]) -> None:
    code, out, err = run(capsys, env, "tenant", "list")
    assert code == 2 and out == ""
    assert "tenure migrate" in err


def test_onboarding_from_the_cli(capsys: Any, env: dict[str, str]) -> None:
    assert run(capsys, env, "migrate")[0] == 0
    code, out, _ = run(capsys, env, "tenant", "create", "acme")
    assert code == 0 and out.strip().endswith("\tacme")
    code, _, err = run(capsys, env, "tenant", "create", "acme")
    assert code == 2 and "already exists" in err

    code, token, err = run(
        capsys, env, "token", "issue", "--tenant", "acme", "--role", "idp,platform",
        "--name", "okta", "--expires-in", "90d",
    )  # fmt: skip
    assert code == 0
    token = token.strip()
    assert token.startswith("tnr_") and "shown once" in err
    token_id = token.split(".")[0].removeprefix("tnr_")

    code, out, _ = run(capsys, env, "token", "list", "--tenant", "acme")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith(token_id))
    assert "\tokta\tidp,platform\tactive\texpires=" in line
    assert token.split(".")[1] not in out

    settings = from_env(env)
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        created = client.post("/scim/v2/Users", json={"userName": "cli"}, headers=auth)
        assert created.status_code == 201
        assert run(capsys, env, "token", "revoke", "--tenant", "acme", token_id)[0] == 0
        assert client.get("/scim/v2/Users", headers=auth).status_code == 401


def test_operator_tokens_and_bad_arguments(capsys: Any, env: dict[str, str]) -> None:
    run(capsys, env, "migrate")
    code, token, _ = run(capsys, env, "token", "issue", "--operator", "--name", "ops")
    assert code == 0
    with TestClient(create_app(from_env(env))) as client:
        auth = {"Authorization": f"Bearer {token.strip()}"}
        assert client.post("/admin/tenants", json={"name": "n1"}, headers=auth).status_code == 201
    run(capsys, env, "tenant", "create", "acme")
    for argv, message in (
        (("token", "issue", "--tenant", "acme", "--role", "wizard", "--name", "x"), "unknown role"),
        (("token", "issue", "--tenant", "nope", "--role", "idp", "--name", "x"), "no tenant"),
        (("token", "issue", "--role", "idp", "--name", "x"), "exactly one"),
        (("token", "issue", "--tenant", "acme", "--name", "x"), "at least one role"),
        (("token", "issue", "--tenant", "acme", "--role", "idp", "--name", "x",
          "--expires-in", "forever"), "not a duration"),
        (("tenant", "create", "Bad Name"), "tenant name"),
    ):  # fmt: skip
        code, out, err = run(capsys, env, *argv)
        assert code == 2, argv
        assert message in err, (argv, err)
        assert out == ""


def test_demo_prints_the_base_url_and_an_admin_token_once(capsys: Any, env: dict[str, str]) -> None:
    run(capsys, env, "migrate")
    code, _, err = run(capsys, env, "demo")
    assert code == 0
    assert "SCIM base URL: http://127.0.0.1:8000/scim/v2" in err
    token = err.split("Admin token (shown once; keep it): ")[1].split()[0]
    code, _, again = run(capsys, env, "demo")
    assert code == 0 and again == ""
    with TestClient(create_app(from_env(env))) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/admin/tokens", headers=auth).status_code == 200
        assert (
            client.post("/scim/v2/Groups", json={"displayName": "g"}, headers=auth).status_code
            == 201
        )
        # The two identities ending within ten days were warned when the demo made them:
        # held, since the demo has no webhook or mail server yet, and sent once it has.
        held = client.get("/admin/outbox?state=held", headers=auth).json()["items"]
        hooks = [i for i in held if "data" in i["payload"] and i["kind"] == "expiry_warning"]
        warned = {i["payload"]["data"]["identity"]["name"] for i in hooks}
        assert len(hooks) == 2 and len(warned) == 2
        expiring = client.get("/reports/expiring?withinDays=10", headers=auth).json()
        reported = {i["identity"]["name"]: i["warned"] for i in expiring["items"]}
        assert all(reported[name] for name in warned)


def test_the_shipped_policy_scenarios_pass(capsys: Any, env: dict[str, str]) -> None:
    from app.config import data_dir

    code, out, err = run(capsys, env, "policy", "validate")
    assert code == 0 and "is valid" in err
    code, out, _ = run(capsys, env, "policy", "test", str(data_dir("policies") / "scenarios.json"))
    assert code == 0, out
    assert out.strip().endswith(" passed, 0 failed")
    assert out.count("ok ") >= 10


def test_policy_commands_fail_loudly(capsys: Any, env: dict[str, str], tmp_path: Any) -> None:
    from app.config import data_dir

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tenure.cedarschema").write_text(
        (data_dir("policies") / "tenure.cedarschema").read_text()
    )
    (bad / "x.cedar").write_text("permit (principal, action, resource) when { resource.nope };")
    code, _, err = run(capsys, env, "policy", "validate", "--dir", str(bad))
    assert code == 2 and "invalid policy set" in err

    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        '[{"name": "auditors write?", "principal": {"roles": ["auditor"]}, "action": "create",'
        ' "resource": {"type": "User"}, "expect": "allow"}]'
    )
    code, out, _ = run(capsys, env, "policy", "test", str(wrong))
    assert code == 1
    assert "FAIL auditors write?" in out and out.strip().endswith("0 passed, 1 failed")
    malformed = tmp_path / "malformed.json"
    malformed.write_text('[{"name": "x"}]')
    code, _, err = run(capsys, env, "policy", "test", str(malformed))
    assert code == 2 and "not a scenario file" in err


def test_tokens_can_be_issued_for_some_kinds_and_environments(
    capsys: Any, env: dict[str, str]
) -> None:
    assert run(capsys, env, "migrate")[0] == 0
    assert run(capsys, env, "tenant", "create", "acme")[0] == 0
    code, token, _ = run(
        capsys, env, "token", "issue", "--tenant", "acme", "--role", "platform",
        "--name", "bots", "--kinds", "bot, workload", "--environments", "staging",
    )  # fmt: skip
    assert code == 0
    code, out, _ = run(capsys, env, "token", "list", "--tenant", "acme")
    line = next(row for row in out.splitlines() if "\tbots\t" in row)
    assert line.endswith("\tkinds=bot,workload\tenvironments=staging")
    code, _, err = run(
        capsys, env, "token", "issue", "--tenant", "acme", "--role", "platform",
        "--name", "ghost", "--agent", "no-such-agent",
    )  # fmt: skip
    assert code == 2 and "is not an Agent of this tenant" in err
    with TestClient(create_app(from_env(env))) as client:
        refused = client.post(
            "/scim/v2/Agents",
            json={"name": "prod-bot", "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance":
                  {"kind": "bot", "environment": "prod", "purpose": "x"}},
            headers={"Authorization": f"Bearer {token.strip()}"},
        )  # fmt: skip
        assert refused.status_code == 403
        assert "tenure.platform.reach" in refused.json()["detail"]


def test_one_sweep_from_the_cli(capsys: Any, env: dict[str, str]) -> None:
    import datetime as dt

    from app.domain.clock import FixedClock

    assert run(capsys, env, "migrate")[0] == 0
    assert run(capsys, env, "tenant", "create", "acme")[0] == 0
    code, admin, _ = run(
        capsys, env, "token", "issue", "--tenant", "acme", "--role", "admin", "--name", "a"
    )
    assert code == 0
    auth = {"Authorization": f"Bearer {admin.strip()}"}
    # Registered three days ago for one day: due now, by the real clock the CLI reads.
    then = FixedClock(dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    quiet = {**env, "TENURE_SCHEDULER": "off"}
    with TestClient(create_app(from_env(quiet), clock=then)) as client:
        owner = client.post("/scim/v2/Users", json={"userName": "owner"}, headers=auth).json()
        ends = (then.now() + dt.timedelta(days=1)).isoformat()
        governance = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
        agent = client.post(
            "/scim/v2/Agents",
            json={"name": "old-bot", "owners": [{"value": owner["id"]}],
                  governance: {"purpose": "ci", "expiresAt": ends}},
            headers=auth,
        )  # fmt: skip
        assert agent.status_code == 201, agent.text
    agent_id = agent.json()["id"]

    code, out, err = run(capsys, env, "sweep", "--once", "--dry-run")
    assert code == 0 and out == f"Agent\t{agent_id}\twould suspend\texpired\n"
    assert "1 would be settled, 0 left alone" in err
    code, out, err = run(capsys, env, "sweep", "--once", "--tenant", "acme")
    assert code == 0 and out == f"Agent\t{agent_id}\tsuspend\texpired\n"
    assert "settled 1" in err and "1 settled, 0 left alone" in err
    code, out, err = run(capsys, env, "sweep", "--once")
    assert code == 0 and out == "" and "0 settled" in err
    assert run(capsys, env, "sweep")[0] == 2

    # The CLI's sweep left one audit event for the agent's suspension, as the scheduler would.
    code, out, _ = run(capsys, env, "report", "summary", "--tenant", "acme", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["identities"]["byState"] == {"suspended": 1}
    assert summary["teardowns"]["byReason"] == {"expired": {"suspended": 1}}
    events = _sql(env, "SELECT action, reason FROM audit_events WHERE resource_id = :r", r=agent_id)
    assert sorted(events) == [("create", None), ("suspend", "expired")]

    code, out, _ = run(capsys, env, "report", "ownership", "--tenant", "acme", "--format", "csv")
    assert code == 0
    (line,) = list(csv.DictReader(io.StringIO(out)))
    assert (line["owner_id"], line["identity_id"], line["state"]) == (
        owner["id"], agent_id, "suspended"
    )  # fmt: skip
    code, out, _ = run(capsys, env, "report", "ownership", "--tenant", "acme")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["owner_id", "owner_type"]
    assert agent_id in out
    code, out, _ = run(capsys, env, "report", "orphans", "--tenant", "acme", "--format", "json")
    assert code == 0 and out == ""  # its owner is active
    code, out, _ = run(capsys, env, "report", "expiring", "--tenant", "acme", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("identity_id,")
    assert len(out.splitlines()) == 1  # a header, nothing ending: it is suspended already
    code, _, err = run(capsys, env, "report", "summary", "--tenant", "nobody")
    assert code == 2 and "no tenant" in err

    code, out, _ = run(capsys, env, "audit", "verify", "--tenant", "acme")
    # the admin token's issue (from this console), the owner, the agent, its suspension
    assert code == 0 and out == "ok: 4 events verify (seq 1–4)\n"
    _sql(env, "UPDATE audit_events SET reason = 'edited' WHERE resource_id = :r AND action = "
         "'suspend'", r=agent_id)  # fmt: skip
    code, out, _ = run(capsys, env, "audit", "verify", "--tenant", "acme")
    assert code == 1 and out == "broken at seq 4: the event was altered\n"


def _sql(env: dict[str, str], statement: str, **params: Any) -> list[Any]:
    import asyncio

    import sqlalchemy as sa

    from app.store.uow import Database

    async def go() -> list[Any]:
        db = Database(env["TENURE_DATABASE_URL"], schema=env.get("TENURE_DATABASE_SCHEMA"))
        try:
            async with db.engine.begin() as connection:
                result = await connection.execute(sa.text(statement), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_onboarding_from_the_cli_waits_for_the_first_request(
    capsys: Any, env: dict[str, str]
) -> None:
    import contextlib
    import threading
    import time

    assert run(capsys, env, "migrate")[0] == 0
    code, out, _ = run(capsys, env, "onboard", "--tenant", "acme", "--provider", "entra")
    assert code == 0
    assert "Tenant acme" in out and "Microsoft Entra ID" in out
    assert "SCIM base URL:   http://" in out and "/scim/v2" in out
    token = out.split("Identity provider token (shown once): ")[1].split()[0]
    assert token.startswith("tnr_") and "Agent platform token" in out
    assert "aadOptscim062020" in out  # the provider's own setting

    code, _, err = run(capsys, env, "onboard", "--tenant", "acme", "--provider", "okta")
    assert code == 2 and "already exists" in err
    code, _, err = run(capsys, env, "onboard", "--tenant", "beta", "--provider", "myspace")
    assert code == 2 and "unknown identity provider 'myspace'" in err
    code, _, err = run(capsys, env, "onboard", "--provider", "okta")
    assert code == 2 and "--tenant is required" in err
    code, out, _ = run(capsys, env, "tenant", "list")
    assert [line.split("\t")[1] for line in out.splitlines()] == ["acme"]

    # Waiting: the provider's first request (here, from a client of a running app) is reported.
    printed = io.StringIO()
    result: list[int] = []

    def onboard_and_wait() -> None:
        with contextlib.redirect_stdout(printed):
            result.append(main(["onboard", "--tenant", "gamma", "--provider", "okta",
                                "--no-platform", "--wait", "20"], env))  # fmt: skip

    waiting = threading.Thread(target=onboard_and_wait)
    waiting.start()
    deadline = time.monotonic() + 20
    while "Waiting up to" not in printed.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    gamma = printed.getvalue().split("Identity provider token (shown once): ")[1].split()[0]
    with TestClient(create_app(from_env(env))) as client:
        looked = client.get(
            '/scim/v2/Users?filter=userName eq "x"', headers={"Authorization": f"Bearer {gamma}"}
        )
        assert looked.status_code == 200
    waiting.join(timeout=30)
    assert result == [0]
    assert "Agent platform token" not in printed.getvalue()
    assert "First request: GET /scim/v2/Users?filter=" in printed.getvalue()
    assert "→ 200 at " in printed.getvalue()


def test_onboarding_asks_at_a_terminal(
    capsys: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, env, "migrate")[0] == 0

    class Terminal:
        def isatty(self) -> bool:
            return True

    answers = iter(["delta", "onelogin"])
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    code, out, _ = run(capsys, env, "onboard")
    assert code == 0 and "Tenant delta" in out and "OneLogin" in out


def test_onboarding_on_a_wildcard_bind_names_the_url_it_assumed(
    capsys: Any, env: dict[str, str]
) -> None:
    """With ``TENURE_HOST=0.0.0.0`` (as the Dockerfile sets) no output says 0.0.0.0."""
    import socket

    wide = {**env, "TENURE_HOST": "0.0.0.0", "TENURE_PORT": "8123"}
    assert run(capsys, wide, "migrate")[0] == 0
    code, out, _ = run(capsys, wide, "onboard", "--tenant", "acme", "--provider", "okta")
    assert code == 0
    assert "0.0.0.0" not in out
    assumed = f"http://{socket.gethostname()}:8123"
    assert f"SCIM base URL:   {assumed}/scim/v2" in out
    assert (
        f"Note: TENURE_PUBLIC_URL is not set: links in e-mails, webhooks and onboarding use {assumed}"
        in out
    )

    public = {**wide, "TENURE_PUBLIC_URL": "https://tenure.example.com/"}
    code, out, _ = run(capsys, public, "onboard", "--tenant", "beta", "--provider", "okta")
    assert code == 0
    assert "SCIM base URL:   https://tenure.example.com/scim/v2" in out
    assert "Note:" not in out and "0.0.0.0" not in out
