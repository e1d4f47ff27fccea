"""The Cedar policy engine: parsed and validated once, decisions named by @id (policies/)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.config import data_dir
from app.domain.actor import Actor, Role
from app.policy.engine import PolicyEngine, PolicyError
from app.policy.entities import Subject

NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
SCHEMA = (data_dir("policies") / "tenure.cedarschema").read_text()


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load(data_dir("policies"))


def actor(*roles: Role, tenant: str = "t1") -> Actor:
    return Actor(token_id="k1", name="client", roles=frozenset(roles), tenant_id=tenant)


def subject(resource_type: str, tenant: str = "t1") -> Subject:
    return Subject(resource_type=resource_type, resource_id="r1", tenant_id=tenant)


@pytest.mark.parametrize(
    ("roles", "resource_type", "allowed", "by"),
    [
        ((Role.IDP,), "User", True, "tenure.roles.idp"),
        ((Role.IDP,), "Group", True, "tenure.roles.idp"),
        ((Role.IDP,), "Agent", False, None),
        ((Role.PLATFORM,), "Agent", True, "tenure.roles.platform"),
        ((Role.PLATFORM,), "ServiceAccount", True, "tenure.roles.platform"),
        ((Role.PLATFORM,), "User", False, None),
        ((Role.AUDITOR,), "User", False, None),
        ((Role.AUDITOR,), "Agent", False, None),
        ((Role.ADMIN,), "Agent", True, "tenure.roles.admin"),
        ((Role.IDP, Role.PLATFORM), "Agent", True, "tenure.roles.platform"),
    ],
)
def test_roles(
    engine: PolicyEngine, roles: tuple[Role, ...], resource_type: str, allowed: bool, by: str | None
) -> None:
    for action in ("create", "update", "delete"):
        decision = engine.decide(actor(*roles), action, subject(resource_type), NOW)
        assert decision.allowed is allowed
        if by:
            assert by in decision.policy_ids
        else:
            assert decision.explain() == "no policy permits this change"


def test_another_tenants_identity_is_forbidden_even_to_admins(engine: PolicyEngine) -> None:
    decision = engine.decide(actor(Role.ADMIN), "update", subject("User", tenant="t2"), NOW)
    assert not decision.allowed
    assert decision.policy_ids == ("tenure.tenant.isolation",)
    assert decision.explain() == (
        "denied by tenure.tenant.isolation (a token acts within its own tenant only)"
    )


def test_an_invalid_policy_set_refuses_to_load(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        PolicyEngine("permit (principal, action, resource) when { principal.nope };", SCHEMA)
    with pytest.raises(PolicyError):
        PolicyEngine("this is not cedar", SCHEMA)
    (tmp_path / "tenure.cedarschema").write_text(SCHEMA)
    (tmp_path / "bad.cedar").write_text(
        'permit (principal, action == Tenure::Action::"fly", resource);'
    )
    with pytest.raises(PolicyError):
        PolicyEngine.load(tmp_path)


def test_every_shipped_policy_has_an_id_and_a_reason() -> None:
    for path in data_dir("policies").glob("*.cedar"):
        text = path.read_text()
        assert (
            text.count("@id(")
            == text.count("@reason(")
            == (text.count("permit (") + text.count("forbid ("))
        ), path.name
