"""Policy scenarios: principal, action, resource and the decision expected (``tenure policy test``).

A file is a JSON list of objects::

    {"name": "auditors never write",
     "principal": {"roles": ["auditor"], "tenant": "t1"},
     "action": "create",
     "resource": {"type": "User", "tenant": "t1"},
     "expect": "deny",            # or "allow"
     "by": "tenure.roles.idp"}    # optional: a policy id that must be among the deciding ones
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from app.domain.actor import Actor, parse_roles
from app.policy.engine import PolicyEngine
from app.policy.entities import Subject


class Principal(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    roles: list[str]
    tenant: str = "tenant"


class Target(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    type: str
    tenant: str = "tenant"
    id: str = "resource"


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    principal: Principal
    action: str
    resource: Target
    expect: Literal["allow", "deny"]
    by: str | None = None


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    scenario: Scenario
    passed: bool
    detail: str


def read(raw: bytes) -> list[Scenario]:
    """Parse a scenario file; ValueError with the position of the first problem."""
    try:
        return msgspec.json.decode(raw, type=list[Scenario])
    except msgspec.MsgspecError as exc:
        raise ValueError(f"not a scenario file: {exc}") from None


def run(engine: PolicyEngine, scenarios: list[Scenario], now: dt.datetime) -> list[Outcome]:
    outcomes = []
    for scenario in scenarios:
        actor = Actor(
            token_id="scenario",
            name=scenario.name,
            roles=parse_roles(scenario.principal.roles),
            tenant_id=scenario.principal.tenant,
        )
        subject = Subject(
            resource_type=scenario.resource.type,
            resource_id=scenario.resource.id,
            tenant_id=scenario.resource.tenant,
        )
        decision = engine.decide(actor, scenario.action, subject, now)
        got = "allow" if decision.allowed else "deny"
        passed = got == scenario.expect and (
            scenario.by is None or scenario.by in decision.policy_ids
        )
        detail = got if decision.allowed else f"{got}: {decision.explain()}"
        outcomes.append(Outcome(scenario=scenario, passed=passed, detail=detail))
    return outcomes
