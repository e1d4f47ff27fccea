"""Policy scenarios: principal, action, resource and the decision expected (``tenure policy test``).

A file is a JSON list of objects. Each resource starts as a healthy identity
of its type — for an Agent or ServiceAccount: one active owner, a purpose, an
end date 30 days out, registered by the scenario's principal — and the
scenario states only what differs. Times are ISO 8601 or relative to now
(``"+30d"``, ``"-2h"``)::

    {"name": "a platform cannot register an agent for two years",
     "principal": {"roles": ["platform"]},
     "action": "create",
     "resource": {"type": "Agent", "expiresAt": "+730d"},
     "expect": "deny",
     "by": "tenure.expiry.max_lifetime"}   # optional: must be among the deciding ids
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from app.domain.actor import Actor, Restrictions, trial_roles
from app.domain.durations import parse_duration
from app.policy.engine import PolicyEngine
from app.policy.proposal import Identity, Limits, Party, Proposal

_NHI = ("Agent", "ServiceAccount")
PRINCIPAL_ID = "scenario-token"


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class Principal(_Strict):
    roles: list[str]
    tenant: str = "tenant"
    kinds: list[str] = []
    environments: list[str] = []
    agent: str | None = None  # the Agent this token is the credential of


class Owner(_Strict):
    id: str = "owner"
    type: str = "User"
    active: bool = True
    entitlements: list[str] = []


class Target(_Strict):
    type: str
    tenant: str = "tenant"
    id: str = "resource"
    governed: bool | None = None  # default: Agents and ServiceAccounts are
    state: str = "active"
    kind: str | None = None
    purpose: str | None = "scenario"
    environment: str | None = None
    created: str = "-1d"
    expiresAt: str | None = "+30d"
    hardExpiresAt: str | None = "+365d"
    lastAttestedAt: str | None = None
    suspendedSince: str | None = None
    orphanedSince: str | None = None
    registeredBy: str | None = PRINCIPAL_ID
    scopes: list[str] = []
    owners: list[Owner] | None = None  # default: one active owner
    sponsors: list[Owner] = []
    parent: Target | None = None


class Context(_Strict):
    changed: list[str] = []
    depth: int = 1
    reason: str = "request"
    before: Target | None = None
    childrenEnd: str | None = None  # a parent's children: their latest end date
    childrenScopes: list[str] | None = None  # and all their scopes


class Scenario(_Strict):
    name: str
    principal: Principal
    action: str
    resource: Target
    expect: Literal["allow", "deny"]
    context: Context = Context()
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


def _time(text: str | None, now: dt.datetime) -> dt.datetime | None:
    if text is None:
        return None
    if text[:1] in "+-":
        delta = parse_duration(text[1:])
        return now + delta if text[0] == "+" else now - delta
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _party(o: Owner) -> Party:
    return Party(id=o.id, resource_type=o.type, active=o.active, entitlements=tuple(o.entitlements))


def identity(t: Target, now: dt.datetime) -> Identity:
    governed = t.governed if t.governed is not None else t.type in _NHI
    if not governed:
        return Identity(
            id=t.id, resource_type=t.type, tenant_id=t.tenant, created=_time(t.created, now) or now
        )
    owners = t.owners if t.owners is not None else [Owner()]
    return Identity(
        id=t.id,
        resource_type=t.type,
        tenant_id=t.tenant,
        created=_time(t.created, now) or now,
        governed=True,
        state=t.state,
        kind=t.kind or ("service_account" if t.type == "ServiceAccount" else "agent"),
        purpose=t.purpose,
        environment=t.environment,
        expires_at=_time(t.expiresAt, now),
        hard_expires_at=_time(t.hardExpiresAt, now),
        last_attested_at=_time(t.lastAttestedAt, now),
        suspended_since=_time(t.suspendedSince, now),
        orphaned_since=_time(t.orphanedSince, now),
        registered_by=t.registeredBy,
        scopes=tuple(t.scopes),
        owners=tuple(_party(o) for o in owners),
        sponsors=tuple(_party(o) for o in t.sponsors),
        parent=identity(t.parent, now) if t.parent else None,
    )


def actor_of(p: Principal) -> Actor:
    return Actor(
        token_id=PRINCIPAL_ID,
        name="scenario",
        roles=trial_roles(p.roles),
        tenant_id=p.tenant,
        restrictions=Restrictions.named(p.kinds, p.environments, p.agent),
    )


def run(
    engine: PolicyEngine,
    scenarios: list[Scenario],
    now: dt.datetime,
    limits: Limits,
) -> list[Outcome]:
    """Decide each scenario within ``limits`` (the server's defaults)."""
    outcomes = []
    for scenario in scenarios:
        subject = identity(scenario.resource, now)
        context = scenario.context
        proposal = Proposal(
            actions=(scenario.action,),
            identity=subject,
            before=identity(context.before, now) if context.before else None,
            changed=tuple(context.changed),
            depth=context.depth,
            limits=limits,
            reason=context.reason,
            children_end=_time(context.childrenEnd, now),
            children_scopes=tuple(context.childrenScopes) if context.childrenScopes else None,
        )
        decision = engine.decide(actor_of(scenario.principal), proposal, now)
        got = "allow" if decision.allowed else "deny"
        passed = got == scenario.expect and (
            scenario.by is None or scenario.by in decision.policy_ids
        )
        detail = got if decision.allowed else f"{got}: {decision.explain()}"
        outcomes.append(Outcome(scenario=scenario, passed=passed, detail=detail))
    return outcomes
