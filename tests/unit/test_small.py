"""Durations, roles, token secrets and settings (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.config import ConfigError, from_env
from app.domain import secrets
from app.domain.actor import Actor, Permission, Role, parse_roles
from app.domain.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", dt.timedelta(days=90)),
        ("12h", dt.timedelta(hours=12)),
        ("30m", dt.timedelta(minutes=30)),
        ("2w", dt.timedelta(weeks=2)),
        ("P90D", dt.timedelta(days=90)),
        ("PT1H30M", dt.timedelta(hours=1, minutes=30)),
        ("p1dt2h", dt.timedelta(days=1, hours=2)),
    ],
)
def test_durations(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "90", "d", "0d", "-1d", "100000d", "soon"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_roles_and_permissions() -> None:
    assert parse_roles("idp, Platform") == {Role.IDP, Role.PLATFORM}
    assert parse_roles(["idp,auditor", "admin"]) == {Role.IDP, Role.AUDITOR, Role.ADMIN}
    for bad in ("", "root", ["operator", "idp"]):
        with pytest.raises(ValueError):
            parse_roles(bad)
    # The scheduler is the server's own sweeper: no issued token carries it.
    with pytest.raises(ValueError, match="scheduler") as refused:
        parse_roles("idp,scheduler")
    assert "scheduler" not in str(refused.value).split("one of:")[1]

    # Permissions cover reads and administration only: writes are Cedar's to decide.
    assert {p.value for p in Permission} == {
        "read_directory",
        "read_identities",
        "manage_tokens",
        "manage_policies",
        "reload_policies",
        "manage_tenants",
        "read_audit",
    }

    def may(*roles: Role) -> set[Permission]:
        actor = Actor(token_id="t", name="a", roles=frozenset(roles), tenant_id="x")
        return {p for p in Permission if actor.may(p)}

    # An identity provider reads the directory it pushes, not the non-human identities.
    directory, identities = {Permission.READ_DIRECTORY}, {Permission.READ_IDENTITIES}
    assert may(Role.AUDITOR) == directory | identities | {Permission.READ_AUDIT}
    assert may(Role.IDP) == directory
    assert may(Role.PLATFORM) == directory | identities
    assert may(Role.SCHEDULER) == directory | identities
    assert may(Role.AUDITOR, Role.IDP) == directory | identities | {Permission.READ_AUDIT}
    assert may(Role.ADMIN) == {
        Permission.READ_DIRECTORY,
        Permission.READ_IDENTITIES,
        Permission.READ_AUDIT,
        Permission.MANAGE_TOKENS,
        Permission.MANAGE_POLICIES,
        Permission.RELOAD_POLICIES,
    }
    assert may(Role.OPERATOR) == {Permission.MANAGE_TENANTS, Permission.RELOAD_POLICIES}


def test_token_secrets() -> None:
    key = b"k" * 32
    minted = secrets.mint()
    assert secrets.token_id_of(minted.plaintext) == minted.token_id
    assert minted.plaintext not in repr(minted)
    stored = secrets.keyed_hash(key, minted.plaintext)
    assert secrets.matches(key, minted.plaintext, stored)
    assert not secrets.matches(b"other-key" * 4, minted.plaintext, stored)
    assert not secrets.matches(key, minted.plaintext + "x", stored)
    assert not secrets.matches(key, minted.plaintext, None)
    assert secrets.token_id_of("tnr_short.abc") is None
    assert secrets.mint().plaintext != minted.plaintext


def test_settings_from_environment(tmp_path: Path) -> None:
    settings = from_env(
        {
            "TENURE_DATABASE_URL": "postgresql://db/tenure",
            "TENURE_PORT": "9000",
            "TENURE_SECRET_KEY": "s" * 40,
            "TENURE_PUBLIC_URL": "https://t.example/",
        }
    )
    assert (settings.database_url, settings.port) == ("postgresql://db/tenure", 9000)
    assert settings.public_url == "https://t.example"
    assert settings.secret_key == b"s" * 40
    with pytest.raises(ConfigError, match="TENURE_PORT"):
        from_env({"TENURE_PORT": "eighty", "TENURE_SECRET_KEY": "s" * 40})
    with pytest.raises(ConfigError, match="32"):
        from_env({"TENURE_SECRET_KEY": "short"})


def test_a_secret_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "key"
    first = from_env({"TENURE_SECRET_KEY_FILE": str(path)})
    second = from_env({"TENURE_SECRET_KEY_FILE": str(path)})
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert path.stat().st_mode & 0o077 == 0


def test_audit_events_name_secrets_but_never_copy_them() -> None:
    import datetime as dt

    from app.audit.events import event
    from app.domain.actor import Actor, Role
    from app.domain.resource import Resource

    urn = "urn:example:params:scim:schemas:extension:Vault"
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    before = Resource(
        tenant_id="t", id="a", resource_type="Agent", external_id=None,
        doc={"name": "bot", urn: {"clientSecret": "s1", "label": "x"}},
        version=1, created=now, last_modified=now,
    )  # fmt: skip
    after = Resource(
        tenant_id="t", id="a", resource_type="Agent", external_id=None,
        doc={"name": "bot", urn: {"clientSecret": "s2", "label": "y"}},
        version=2, created=now, last_modified=now,
    )  # fmt: skip
    actor = Actor(token_id="k", name="c", roles=frozenset({Role.ADMIN}), tenant_id="t")
    made = event(
        actor, actions=("update",), before=before, after=after,
        changed={f"{urn}:clientSecret", f"{urn}:label"}, allowed=True,
        policy_ids=("tenure.roles.admin",), at=now,
    )  # fmt: skip
    assert made.changed == (f"{urn}:clientSecret", f"{urn}:label")
    assert made.before == {f"{urn}:label": "x"} and made.after == {f"{urn}:label": "y"}
    assert "s1" not in repr(made) and "s2" not in repr(made)


def test_webhook_signatures_match_the_standard_webhooks_reference() -> None:
    import datetime as dt

    from standardwebhooks import Webhook

    from app.notify.webhooks import headers, new_secret

    secret = new_secret()
    body = b'{"type":"identity.suspended","data":{"id":"a1"}}'
    made = headers(secret, "msg_1", 1_764_320_000, body)
    when = dt.datetime.fromtimestamp(1_764_320_000, dt.UTC)
    assert made["webhook-signature"] == Webhook(secret).sign("msg_1", when, body.decode())
    assert made["webhook-id"] == "msg_1" and made["webhook-timestamp"] == "1764320000"
    assert new_secret() != secret


def test_links_outside_a_request_never_use_a_wildcard_bind_address(tmp_path: Path) -> None:
    import socket

    from app.config import public_base, public_url_warning

    key = {"TENURE_SECRET_KEY": "k" * 64}
    here = from_env({**key, "TENURE_HOST": "127.0.0.1", "TENURE_PORT": "8000"})
    assert public_base(here) == "http://127.0.0.1:8000"
    assert public_url_warning(here) is None  # loopback: only this machine follows links
    assert public_url_warning(from_env({**key, "TENURE_HOST": "::1"})) is None
    assert public_url_warning(from_env({**key, "TENURE_HOST": "localhost"})) is None

    name = socket.gethostname()
    for wildcard in ("0.0.0.0", "::"):
        wide = from_env({**key, "TENURE_HOST": wildcard, "TENURE_PORT": "9000"})
        assert public_base(wide) == f"http://{name}:9000"
        warning = public_url_warning(wide)
        assert warning is not None and f"use http://{name}:9000;" in warning
    lan = from_env({**key, "TENURE_HOST": "10.1.2.3"})
    assert public_base(lan) == "http://10.1.2.3:8000" and public_url_warning(lan) is not None
    v6 = from_env({**key, "TENURE_HOST": "fd00::5"})
    assert public_base(v6) == "http://[fd00::5]:8000"

    public = from_env({**key, "TENURE_HOST": "0.0.0.0", "TENURE_PUBLIC_URL": "https://t.example/"})
    assert public_base(public) == "https://t.example" and public_url_warning(public) is None
