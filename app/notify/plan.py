"""Pure: which messages a lifecycle step causes, each with its de-duplication key.

The key names the cause (identity, step, and the end date or suspension it
is about), so planning the same cause again — a retried sweep, two replicas —
adds nothing, while a renewed identity that later expires again is warned again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from app.domain.lifecycle import State
from app.domain.notifications import Message
from app.domain.resource import Resource
from app.scim.codec import format_datetime
from app.scim.schema import GOVERNANCE_URN

WEBHOOK, EMAIL = "webhook", "email"
_ENDPOINTS = {"Agent": "Agents", "ServiceAccount": "ServiceAccounts", "User": "Users"}


def _message_id(tenant_id: str, key: str) -> str:
    """``msg_…``: derived from the cause, so a message keeps its id across every retry."""
    return "msg_" + hashlib.sha256(f"{tenant_id}\x00{key}".encode()).hexdigest()[:32]


def _identity(resource: Resource, base_url: str) -> dict[str, Any]:
    governance = resource.doc.get(GOVERNANCE_URN) or {}
    endpoint = _ENDPOINTS.get(resource.resource_type, resource.resource_type + "s")
    return {
        "id": resource.id,
        "resourceType": resource.resource_type,
        "name": resource.doc.get("name") or resource.doc.get("userName"),
        "kind": governance.get("kind"),
        "purpose": governance.get("purpose"),
        "expiresAt": governance.get("expiresAt"),
        "owners": [
            {"value": r.value, "type": r.type, "display": r.display, "status": r.status}
            for r in resource.owners or ()
            if r.relation == "owner"
        ],
        "link": f"{base_url.rstrip('/')}/scim/v2/{endpoint}/{resource.id}",
    }


def _message(
    resource: Resource, kind: str, key: str, body: dict[str, Any], now: dt.datetime
) -> Message:
    return Message(
        tenant_id=resource.tenant_id,
        dedup_key=key,
        kind=kind,
        channel=WEBHOOK,
        message_id=_message_id(resource.tenant_id, key),
        payload={"type": f"identity.{kind}", "timestamp": format_datetime(now), "data": body},
        created=now,
        resource_id=resource.id,
    )


# For each step: what marks its occasion (for the key) and what comes next, when.
_SINCE = {"suspended": "suspendedAt", "orphaned": "orphanedAt"}
_DUE = {"suspended": "teardownAt", "orphaned": "suspendAt"}


def teardown_step(
    resource: Resource, *, step: str, reason: str, now: dt.datetime, base_url: str
) -> Message:
    """``suspended``, ``deprovisioned``, ``orphaned`` or ``handed_over``: the owners hear of it."""
    governance = resource.doc.get(GOVERNANCE_URN) or {}
    since = governance.get(_SINCE.get(step, ""), format_datetime(now))
    body = {
        "identity": _identity(resource, base_url),
        "reason": reason,
        "due": governance.get(_DUE[step]) if step in _DUE else None,
    }
    return _message(resource, step, f"{step}:{resource.id}:{since}", body, now)


def warnings(
    resource: Resource, *, moment: str, leads: tuple[int, ...], since: dt.datetime,
    now: dt.datetime, base_url: str,
) -> list[Message]:  # fmt: skip
    """Warnings whose time (``moment`` minus a lead, in days) fell in ``(since, now]``.

    ``moment`` is ``expiresAt`` (``expiry_warning``: it ends in so many days)
    or ``attestBy`` (``attestation_due`` before it; at it, lead 0,
    ``attestation_overdue``: flagged, and suspended at ``attestationSuspendAt``).
    """
    at = resource.governance.due(moment)
    if at is None:
        return []
    # The stored text, not a reformatting, keys and reports the warning: a key
    # planned before stays the same key.
    governance = resource.doc.get(GOVERNANCE_URN) or {}
    raw = governance.get(moment)
    if not isinstance(raw, str):
        return []
    out = []
    for days in leads:
        if not since < at - dt.timedelta(days=days) <= now:
            continue
        if moment == "expiresAt":
            kind, due = "expiry_warning", raw
        elif days:
            kind, due = "attestation_due", raw
        else:
            kind, due = "attestation_overdue", governance.get("attestationSuspendAt")
        body = {"identity": _identity(resource, base_url), "reason": kind, "due": due,
                "daysLeft": days}  # fmt: skip
        key = f"{kind}:{resource.id}:{raw}:{days}d"
        out.append(_message(resource, kind, key, body, now))
    return out


def warned_at_once(
    before: Resource | None, after: Resource, *, leads: tuple[int, ...], now: dt.datetime,
    base_url: str,
) -> list[Message]:  # fmt: skip
    """An end set inside a warning lead (a registration with two days left, a renewal to
    a near date): the nearest lead's ``expiry_warning`` now, rather than nothing until the
    next lead passes. Keyed as the sweep's warning for that lead, so it is sent once."""
    governance = after.governance
    end = governance.expires_at
    if end is None or end <= now or governance.lifecycle_state is not State.ACTIVE:
        return []
    if before is not None and before.governance.expires_at == end:
        return []
    passed = [days for days in leads if end - dt.timedelta(days=days) <= now]
    raw = (after.doc.get(GOVERNANCE_URN) or {}).get("expiresAt")
    if not passed or not isinstance(raw, str):
        return []
    days = min(passed)
    body = {"identity": _identity(after, base_url), "reason": "expiry_warning", "due": raw,
            "daysLeft": (end - now).days}  # fmt: skip
    key = f"expiry_warning:{after.id}:{raw}:{days}d"
    return [_message(after, "expiry_warning", key, body, now)]


def blast_radius(
    tenant_id: str, *, due: int, active: int, percent: int, now: dt.datetime
) -> Message:
    """The sweep stopped short of suspending too much of a tenant at once: its admins hear."""
    key = f"blast_radius:{tenant_id}:{now.date().isoformat()}"
    body = {
        "tenant": tenant_id,
        "due": due,
        "active": active,
        "limitPercent": percent,
        "detail": f"the sweep would suspend {due} of {active} active identities, more than "
        f"{percent}%; nothing was suspended. Check what ended, then raise the limit "
        "(PUT /admin/settings blastRadiusPercent) or renew what should live on.",
    }
    return Message(
        tenant_id=tenant_id,
        dedup_key=key,
        kind="blast_radius",
        channel=WEBHOOK,
        message_id=_message_id(tenant_id, key),
        payload={"type": "tenant.blast_radius", "timestamp": format_datetime(now), "data": body},
        created=now,
    )


_SUBJECTS = {
    "expiry_warning": "{name} ends in {days} day(s)",
    "attestation_due": "{name} needs an owner's attestation within {days} day(s)",
    "attestation_overdue": "{name} is overdue for attestation",
    "suspended": "{name} was suspended",
    "restored": "{name} was restored",
    "deprovisioned": "{name} was torn down",
    "orphaned": "{name} has no active owner",
    "handed_over": "{name} is now yours",
}
_KEEP_IT = {
    "restored": "It is back as it was before it was deleted, in the Groups it was in.",
    "attestation_due": "To keep it, an owner attests: set lastAttestedAt to the present time "
    "(PATCH). Otherwise it is suspended after the grace period.",
    "attestation_overdue": "To keep it, an owner attests now: set lastAttestedAt to the present "
    "time (PATCH). Otherwise it is suspended on the date above.",
}


def email(message: Message, recipients: list[str]) -> Message:
    """The e-mail twin of a notification, to ``recipients``, in words a person acts on."""
    data = message.payload["data"]
    if message.kind == "blast_radius":
        subject = f"A sweep of tenant {data['tenant']} was stopped"
        text = "\n".join([f"{subject}.", "", data["detail"], ""])
        return _twin(message, recipients, subject, text)
    identity = data.get("identity") or {}
    name = identity.get("name") or identity.get("id")
    what = identity.get("resourceType", "identity")
    subject = _SUBJECTS.get(message.kind, "{name}: " + message.kind).format(
        name=f"{what} {name!r}", days=data.get("daysLeft")
    )
    lines = [f"{subject}.", ""]
    lines.append(f"Reason: {data.get('reason')}")
    if identity.get("purpose"):
        lines.append(f"Purpose: {identity['purpose']}")
    if identity.get("expiresAt"):
        lines.append(f"Ends: {identity['expiresAt']}")
    if data.get("due"):
        lines.append(f"Next step on: {data['due']}")
    owners = ", ".join(o.get("display") or o["value"] for o in identity.get("owners", []))
    if owners:
        lines.append(f"Owners: {owners}")
    lines += ["", f"Review it: {identity.get('link', '')}", ""]
    lines.append(
        _KEEP_IT.get(
            message.kind,
            "To keep it, renew it (a new expiresAt with a fresh lastAttestedAt) or assign an "
            "active owner; to let it go, do nothing.",
        )
    )
    return _twin(message, recipients, subject, "\n".join(lines))


def _twin(message: Message, recipients: list[str], subject: str, text: str) -> Message:
    key = message.dedup_key + ":email"
    return Message(
        tenant_id=message.tenant_id,
        dedup_key=key,
        kind=message.kind,
        channel=EMAIL,
        message_id=_message_id(message.tenant_id, key),
        payload={"to": recipients, "subject": subject, "text": text},
        created=message.created,
        resource_id=message.resource_id,
    )
