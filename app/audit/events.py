"""Pure: the audit event of a decided change, and what it may hold.

One event per mutation attempt, allowed or denied (naming the deciding policy
ids). Events carry the before and after values of the attributes a change
touched — never a password, a token or a secret.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.actor import Actor
from app.domain.audit import AuditEvent
from app.domain.resource import Resource

# Never written to the audit log, whatever a change touched (RFC 7643 §4.1.1
# password; the rest are names clients use for credentials).
_SECRET = frozenset({"password", "secret", "token", "clientsecret", "privatekey"})
# Too large to copy into every event; the event still names them as changed.
_BULKY = frozenset({"members", "groups"})


def name_of(resource: Resource) -> str | None:
    for key in ("userName", "name", "displayName"):
        value = resource.doc.get(key)
        if isinstance(value, str):
            return value
    return None


def _value(resource: Resource | None, path: str) -> Any:
    """The value at a changed path (top-level attribute, or ``urn…:attr`` of an extension)."""
    if resource is None:
        return None
    if path.lower().startswith("urn:"):
        urn, _, name = path.rpartition(":")
        extension = resource.doc.get(urn)
        head = name.split(".", 1)[0]
        return extension.get(head) if isinstance(extension, dict) else None
    head = path.split(".", 1)[0]
    if head == "externalId":
        return resource.external_id
    if head == "owners":
        return sorted(r.value for r in resource.owners or () if r.relation == "owner") or None
    return resource.doc.get(head)


def _key(path: str) -> str:
    """``name.givenName`` → ``name``; ``urn…:Governance:scopes.x`` → ``urn…:Governance:scopes``."""
    if path.lower().startswith("urn:"):
        urn, _, name = path.rpartition(":")
        return f"{urn}:{name.split('.', 1)[0]}"
    return path.split(".", 1)[0]


def _secret(path: str) -> bool:
    last = path.rpartition(":")[2].split(".", 1)[0].lower()
    return last in _SECRET


def event(
    actor: Actor,
    *,
    actions: tuple[str, ...],
    before: Resource | None,
    after: Resource,
    changed: tuple[str, ...] | list[str] | set[str],
    allowed: bool,
    policy_ids: tuple[str, ...],
    at: dt.datetime,
    reason: str = "request",
    detail: str | None = None,
) -> AuditEvent:
    """The event for one decided change; secrets are never copied, only named."""
    keys = sorted({_key(p) for p in changed})
    shown = [k for k in keys if not _secret(k) and k.split(":")[-1] not in _BULKY]
    return AuditEvent(
        tenant_id=after.tenant_id,
        at=at,
        actor_token=actor.token_id,
        actor_name=actor.name,
        actor_roles=tuple(sorted(actor.roles)),
        action=",".join(actions),
        resource_type=after.resource_type,
        resource_id=after.id,
        resource_name=name_of(after),
        decision="allow" if allowed else "deny",
        policy_ids=policy_ids,
        changed=tuple(keys),
        before={k: v for k in shown if (v := _value(before, k)) is not None},
        after={k: v for k in shown if (v := _value(after, k)) is not None},
        reason=None if reason == "request" else reason,
        detail=detail,
        request_id=actor.request_id,
        client=actor.client,
    )


def admin_event(
    actor: Actor,
    tenant_id: str,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    name: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
    at: dt.datetime,
) -> AuditEvent:
    """An administrator's change to a tenant's configuration — its tokens, settings,
    policies, notification targets: who, what, the values before and after (only those
    that changed), never a secret. It joins the tenant's chain like any other event."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    shown = [k for k in keys if not _secret(k)]
    return AuditEvent(
        tenant_id=tenant_id,
        at=at,
        actor_token=actor.token_id,
        actor_name=actor.name,
        actor_roles=tuple(sorted(actor.roles)),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=name,
        decision="allow",
        policy_ids=(),
        changed=tuple(keys),
        before={k: before[k] for k in shown if before.get(k) is not None},
        after={k: after[k] for k in shown if after.get(k) is not None},
        request_id=actor.request_id,
        client=actor.client,
    )
