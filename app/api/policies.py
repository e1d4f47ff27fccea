"""``/admin/policies``: the effective Cedar set, a tenant's own policies, reload and dry run."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require, tenant_of
from app.api.media import json_response, read_struct
from app.api.services import services
from app.domain.actor import Actor, Permission, Restrictions, trial_roles
from app.policy.engine import PolicyError
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.executor import Verdict
from app.scim.errors import InvalidValue

AnyRequest = Request[Any, Any, Any]

_KINDS = {
    "POST": MutationKind.CREATE,
    "PUT": MutationKind.REPLACE,
    "PATCH": MutationKind.PATCH,
    "DELETE": MutationKind.DELETE,
    "SUSPEND": MutationKind.SUSPEND,
    "TEARDOWN": MutationKind.TEARDOWN,
}


class PolicyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    policy: str  # Cedar text: one or more policies, each with an @id


class Principal(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """As whom a dry run decides: a token of the tenant, or roles made up for the trial."""

    token: str | None = None
    roles: list[str] | None = None
    kinds: list[str] = []
    environments: list[str] = []
    agent: str | None = None


class EvaluateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    method: str  # POST, PUT, PATCH, DELETE, or the scheduler's SUSPEND, TEARDOWN
    path: str  # /Agents or /Agents/{id}
    data: dict[str, Any] | None = None
    principal: Principal | None = None
    reason: str = "request"  # the scheduler's: expired, orphaned, unattested
    ifMatch: str | None = None


def _verdict_view(verdict: Verdict) -> dict[str, Any]:
    decision = verdict.decision
    return {
        "resourceType": verdict.resource_type,
        "id": verdict.resource_id,
        "decision": "allow" if decision.allowed else "deny",
        "actions": list(decision.actions),
        "policies": [
            {"id": pid, **({"reason": reason} if reason else {})}
            for pid, reason in zip(
                decision.policy_ids,
                decision.reasons or ("",) * len(decision.policy_ids),
                strict=True,
            )
        ],
        "diagnostics": {"errors": list(decision.errors)},
        **({} if decision.allowed else {"detail": decision.explain()}),
    }


async def _principal(request: AnyRequest, actor: Actor, wanted: Principal | None) -> Actor:
    if wanted is None:
        return actor
    if wanted.token is not None:
        return await services(request).tenancy.actor(tenant_of(actor), wanted.token)
    if not wanted.roles:
        raise InvalidValue("principal needs a token id or roles")
    try:
        roles = trial_roles(wanted.roles)
        restrictions = Restrictions.named(wanted.kinds, wanted.environments, wanted.agent)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    return Actor(
        token_id="dry-run",
        name="dry run",
        roles=roles,
        tenant_id=tenant_of(actor),
        restrictions=restrictions,
    )


class PolicyAdminController(Controller):
    path = "/admin/policies"

    @get("/")
    async def effective(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        """The policies in force for the caller's tenant: shipped defaults and its own."""
        require(actor, Permission.MANAGE_POLICIES)
        sources = await services(request).policies.effective(tenant_of(actor))
        return json_response({"items": [msgspec.to_builtins(s) for s in sources]})

    @post("/")
    async def add(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """Add tenant policies; 400 with the validator's message if they do not validate."""
        require(actor, Permission.MANAGE_POLICIES)
        wanted: PolicyRequest = await read_struct(request, PolicyRequest)
        added = await services(request).policies.add(tenant_of(actor), wanted.policy, actor=actor)
        return json_response({"items": [msgspec.to_builtins(p) for p in added]}, 201)

    @delete("/{policy_id:str}", status_code=204)
    async def remove(
        self, request: AnyRequest, actor: NamedDependency[Actor], policy_id: FromPath[str]
    ) -> None:
        require(actor, Permission.MANAGE_POLICIES)
        await services(request).policies.remove(tenant_of(actor), policy_id, actor=actor)

    @post("/reload", status_code=200)
    async def reload(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """Re-read ``policies/``; the new set replaces the old only if it validates."""
        require(actor, Permission.RELOAD_POLICIES)
        try:
            count = services(request).policies.engine.reload()
        except PolicyError as exc:
            raise InvalidValue(f"policies not reloaded, the previous set stays: {exc}") from None
        return json_response({"reloaded": True, "policies": count})

    @post("/evaluate", status_code=200)
    async def evaluate(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """A dry run of a proposed mutation: the decisions it would meet; nothing is written."""
        require(actor, Permission.MANAGE_POLICIES)
        wanted: EvaluateRequest = await read_struct(request, EvaluateRequest)
        kind = _KINDS.get(wanted.method.upper())
        if kind is None:
            raise InvalidValue(f"method must be one of {', '.join(_KINDS)}")
        parts = [p for p in wanted.path.split("/") if p]
        registry = services(request).registry
        resource_type = registry.by_endpoint("/" + parts[0]) if parts else None
        if resource_type is None or len(parts) != (1 if kind is MutationKind.CREATE else 2):
            raise InvalidValue(f"path {wanted.path!r} is not like /Agents or /Agents/{{id}}")
        principal = await _principal(request, actor, wanted.principal)
        verdicts, _ = await services(request).provisioning.evaluate(
            Mutation(
                kind=kind,
                actor=principal,
                resource_type=resource_type.name,
                resource_id=parts[1] if len(parts) == 2 else None,
                body=wanted.data,
                if_match=wanted.ifMatch,
                reason=wanted.reason,
            )
        )
        allowed = all(v.decision.allowed for v in verdicts)
        return json_response(
            {
                "decision": "allow" if allowed else "deny",
                "decisions": [_verdict_view(v) for v in verdicts],
            }
        )
