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
from app.scim.codec import format_datetime, parse_datetime
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
        "owners": _refs(resource, "owner"),
        "sponsors": _refs(resource, "sponsor"),
        "link": f"{base_url.rstrip('/')}/scim/v2/{endpoint}/{resource.id}",
    }


def _refs(resource: Resource, relation: str) -> list[dict[str, Any]]:
    return [
        {"value": r.value, "type": r.type, "display": r.display, "status": r.status}
        for r in resource.owners or ()
        if r.relation == relation
    ]


# What people must hear of even when no owner is left to tell: the sponsors are told
# too, and failing every accountable person, the tenant's alert addresses.
ACCOUNTABLE = frozenset({"orphaned", "suspended", "deprovisioned", "handed_over"})


def _message(
    resource: Resource, kind: str, key: str, body: dict[str, Any], now: dt.datetime
) -> Message:
    return Message(
        tenant_id=resource.tenant_id,
        dedup_key=key,
        kind=kind,
        channel=WEBHOOK,
        message_id=_message_id(resource.tenant_id, key),
        payload={
            "type": f"identity.{kind}",
            "timestamp": format_datetime(now),
            "tenant": resource.tenant_id,
            "data": body,
        },
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
        out.append(_message(resource, kind, _warning_key(kind, resource, raw, days), body, now))
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
    key = _warning_key("expiry_warning", after, raw, days)
    return [_message(after, "expiry_warning", key, body, now)]


def _warning_key(kind: str, resource: Resource, moment: str, days: int) -> str:
    """One warning per identity, moment (as stored) and lead: the sweep's and the change's
    warning for the same lead are the same message."""
    return f"{kind}:{resource.id}:{moment}:{days}d"


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


# What happened, as the subject says it ({what} {name!r}, {left}: "in 3 days", "tomorrow").
_SUBJECTS = {
    "expiry_warning": "{what} {name} ends {left}",
    "attestation_due": "{what} {name} needs an owner to confirm it is still needed",
    "attestation_overdue": "{what} {name} is overdue for an owner's confirmation",
    "suspended": "{what} {name} was suspended",
    "restored": "{what} {name} was restored",
    "deprovisioned": "{what} {name} was torn down",
    "orphaned": "{what} {name} has no active owner",
    "handed_over": "{what} {name} is now yours",
}
# Why, in words: the codes a suspension or hand-over records.
_BECAUSE = {
    "expired": "it reached its end date",
    "requested": "it was suspended on request",
    "unattested": "no owner confirmed in time that it is still needed",
    "orphaned": "it has had no active owner for the grace period",
    "no_active_owner": "none of its owners is active any more",
    "owner_left": "its previous owner left",
    "cascade": "the identity it was delegated from was suspended",
    "deleted": "it was deleted",
    "restored": "an administrator restored it",
}
# What follows, and what the reader can do, per notification ({due}: when).
_NEXT = {
    "expiry_warning": (
        "On {end} Tenure suspends it: its access stops, and it is torn down after the "
        "grace period.",
        "To keep it, an owner renews it (a later end date, confirming it is still needed). "
        "To let it go, do nothing.",
    ),
    "attestation_due": (
        "If no owner confirms it by {due}, it is flagged and its owners are told again.",
        "To keep it, an owner confirms it is still needed (attests) before then.",
    ),
    "attestation_overdue": (
        "Unless an owner confirms it, Tenure suspends it on {due}.",
        "To keep it, an owner confirms now that it is still needed (attests).",
    ),
    "suspended": (
        "It is torn down on {due} unless it is reactivated before then.",
        "To bring it back, renew it and reactivate it; to let it go, do nothing.",
    ),
    "orphaned": (
        "Unless an active owner is assigned, Tenure suspends it on {due}.",
        "To keep it, assign it an active owner (or take it over yourself).",
    ),
    "handed_over": (
        "You are now accountable for it in place of its previous owner.",
        "Check that it is still needed; if not, retire it.",
    ),
    "restored": (
        "It is back as it was before it was deleted, in the Groups it was in.",
        "Nothing to do, unless it should not be back.",
    ),
    "deprovisioned": ("It is gone from SCIM; reports and the audit trail keep its record.", ""),
}


def _when(value: Any) -> str:
    """An instant as a person reads it: ``Wed 9 Dec 2026, 21:45 UTC``."""
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return str(value) if value else "a date not set"
    utc = moment.astimezone(dt.UTC)
    return f"{utc:%a} {utc.day} {utc:%b %Y, %H:%M} UTC"


def _left(days: Any) -> str:
    if not isinstance(days, int) or days < 0:
        return "soon"
    return {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")


def email(message: Message, recipients: list[str], tenant: str) -> Message:
    """The e-mail twin of a notification, to ``recipients``, in words a person acts on: the
    tenant and identity in the subject, why it was sent, what happens when, what to do."""
    data = message.payload["data"]
    if message.kind == "blast_radius":
        subject = f"[{tenant}] A sweep was stopped before suspending too much at once"
        text = "\n".join([f"{subject}.", "", data["detail"], ""])
        return _twin(message, recipients, subject, text)
    identity = data.get("identity") or {}
    name = repr(identity.get("name") or identity.get("id"))
    what = _KINDS.get(identity.get("kind"), identity.get("resourceType", "Identity"))
    subject = _SUBJECTS.get(message.kind, "{what} {name}: " + message.kind).format(
        what=what, name=name, left=_left(data.get("daysLeft"))
    )
    subject = f"[{tenant}] {subject}"
    lines = [f"{subject}.", ""]
    reason = data.get("reason")
    if reason in _BECAUSE:
        lines.append(f"Why: {_BECAUSE[reason]}.")
    lines.append(
        f"You are told as one of those accountable for this {what.lower()} in Tenure's "
        f"tenant {tenant}."
    )
    if identity.get("purpose"):
        lines.append(f"Its purpose: {identity['purpose']}")
    owners = ", ".join(o.get("display") or o["value"] for o in identity.get("owners", []))
    if owners:
        lines.append(f"Its owners: {owners}")
    follows, to_do = _NEXT.get(message.kind, ("", ""))
    if message.kind == "suspended" and not data.get("due"):
        follows = "It stays suspended until it is reactivated; no teardown is scheduled."
    lines.append("")
    if follows:
        lines.append(
            follows.format(end=_when(identity.get("expiresAt")), due=_when(data.get("due")))
        )
    if to_do:
        lines.append(to_do)
    lines += ["", f"Open it: {identity.get('link', '')}", ""]
    return _twin(message, recipients, subject, "\n".join(lines))


_KINDS = {"agent": "Agent", "service_account": "Service account", "workload": "Workload",
          "bot": "Bot"}  # fmt: skip


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
