"""Governed non-human identities (DESIGN.md "Identity model"): defaults and data-integrity rules.

Pure: the Mutation pipeline loads what these functions need (the parent, the
depth of its chain) and hands it over. Agents and ServiceAccounts are always
governed; a User is governed when it carries the Governance extension with a
``kind`` (identity providers can only push Users).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor
from app.domain.governance import Governance, write
from app.domain.kinds import describe, unknown_kinds
from app.domain.lifecycle import State, TransitionError, move
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import TenantSettings
from app.policy.proposal import Limits
from app.scim.errors import InvalidValue
from app.scim.schema import GOVERNANCE_URN, OWNERS_URN

GOVERNANCE = GOVERNANCE_URN
OWNERS = OWNERS_URN
NHI_TYPES = frozenset({"Agent", "ServiceAccount"})
DEFAULT_KIND = {"Agent": "agent", "ServiceAccount": "service_account"}
# Set by the server only: a PUT that omits them keeps them.
SERVER_MANAGED = (
    "lifecycleState",
    "suspendedReason",
    "suspendedAt",
    "teardownAt",
    "registeredBy",
    "orphanedAt",
    "suspendAt",
    "attestBy",
    "attestationSuspendAt",
    "registeredAt",
)
ORPHAN_FLAGS = ("orphanedAt", "suspendAt")
# Where an identity is in its lifecycle: what a DELETE changes and a restore puts back.
LIFECYCLE = ("lifecycleState", "suspendedReason", "suspendedAt", "teardownAt")


class Lifetimes(msgspec.Struct, frozen=True, kw_only=True):
    """Tenant defaults, as Vault gives a lease a default TTL."""

    default: dict[str, dt.timedelta]  # by kind
    hard_cap: dt.timedelta  # hardExpiresAt when the client gives none
    max_depth: int  # delegation depth: a root agent is depth 1
    attestation: dt.timedelta = dt.timedelta(days=90)
    attestation_grace: dt.timedelta = dt.timedelta(days=7)
    teardown_grace: dt.timedelta = dt.timedelta(days=7)
    orphan_grace: dt.timedelta = dt.timedelta(hours=72)
    across_environments: bool = False  # a delegated child may leave its parent's environment

    def default_for(self, kind: str) -> dt.timedelta:
        return self.default.get(kind, self.default["agent"])

    @property
    def limits(self) -> Limits:
        """What policies bound identities by: a kind's default lifetime is also its maximum."""
        return Limits(
            agent_lifetime=self.default_for("agent"),
            service_account_lifetime=self.default_for("service_account"),
            hard_cap=self.hard_cap,
            max_depth=self.max_depth,
            attestation_max_age=self.attestation,
            attestation_grace=self.attestation_grace,
            teardown_grace=self.teardown_grace,
            orphan_grace=self.orphan_grace,
            delegation_across_environments=self.across_environments,
        )

    def for_tenant(self, settings: TenantSettings) -> Lifetimes:
        """These defaults with a tenant's own settings laid over them."""
        default = dict(self.default)
        if settings.agent_lifetime_days:
            default["agent"] = dt.timedelta(days=settings.agent_lifetime_days)
        if settings.service_account_lifetime_days:
            default["service_account"] = dt.timedelta(days=settings.service_account_lifetime_days)
        return Lifetimes(
            default=default,
            hard_cap=dt.timedelta(days=settings.hard_cap_days)
            if settings.hard_cap_days
            else self.hard_cap,
            max_depth=settings.delegation_max_depth or self.max_depth,
            attestation=_days(settings.attestation_days, self.attestation),
            attestation_grace=_hours(settings.attestation_grace_hours, self.attestation_grace),
            teardown_grace=_hours(settings.teardown_grace_hours, self.teardown_grace),
            orphan_grace=_hours(settings.orphan_grace_hours, self.orphan_grace),
            across_environments=settings.delegation_across_environments is True,
        )


def _days(value: int | None, default: dt.timedelta) -> dt.timedelta:
    return dt.timedelta(days=value) if value is not None else default


def _hours(value: int | None, default: dt.timedelta) -> dt.timedelta:
    """Grace periods may be 0 (a tenant that wants none), so only None falls back."""
    return dt.timedelta(hours=value) if value is not None else default


class Refs(msgspec.Struct, frozen=True, kw_only=True):
    """Owners and sponsors named by a write: id → display as sent (None: not asserted)."""

    owners: dict[str, str | None] | None
    sponsors: dict[str, str | None] | None


def governed(resource_type: str, doc: dict[str, Any]) -> bool:
    if resource_type in NHI_TYPES:
        return True
    # Asked of every User a change touches: a look at one key, not the whole record.
    extension = doc.get(GOVERNANCE)
    return resource_type == "User" and isinstance(extension, dict) and bool(extension.get("kind"))


def check_extensions(resource_type: str, doc: dict[str, Any]) -> None:
    """A User carries the Governance and Owners extensions only as a governed identity.

    Without a ``kind`` they would be inert data that reads as governance (owners
    nobody checks, an end nobody enforces): 400, naming what makes it governed.
    """
    if resource_type != "User" or governed(resource_type, doc):
        return
    carried = [urn for urn in (GOVERNANCE, OWNERS) if doc.get(urn)]
    if carried:
        raise InvalidValue(
            f"a User carries {carried[0]} only as a governed identity: give it "
            f"'{GOVERNANCE}:kind' ({describe()})"
        )


def take_refs(doc: dict[str, Any], body_named: set[str]) -> Refs:
    """Pop ``owners`` and Governance ``sponsors`` out of ``doc``: they live in their own table.

    ``body_named`` says which of them the request named at all, so that a PUT
    without owners keeps them while ``"owners": []`` clears them.
    """
    # A governed User names its owners in their own extension (Users have no core owners).
    ownership = doc.pop(OWNERS, None)
    owners = _refs(doc.pop("owners", None) or (ownership or {}).get("owners"), "owners")
    extension = doc.get(GOVERNANCE)
    sponsors = _refs(extension.pop("sponsors", None), "sponsors") if extension else None
    if extension == {}:
        doc.pop(GOVERNANCE)
    return Refs(
        owners=owners if owners is not None else ({} if "owners" in body_named else None),
        sponsors=sponsors if sponsors is not None else ({} if "sponsors" in body_named else None),
    )


def _refs(items: list[dict[str, Any]] | None, name: str) -> dict[str, str | None] | None:
    if items is None:
        return None
    out: dict[str, str | None] = {}
    for index, item in enumerate(items):
        value = item.get("value")
        if not isinstance(value, str) or not value:
            raise InvalidValue(f"'{name}[{index}].value' is required")
        out[value] = item.get("display")
    return out


def with_refs(doc: dict[str, Any], resource: Resource) -> dict[str, Any]:
    """The document a PATCH sees: owners, sponsors and ``active`` put back in (RFC 7644 §3.5.2)."""
    doc = copy_doc(doc)
    refs = resource.owners or ()
    owners = [_ref(r) for r in refs if r.relation == "owner"]
    sponsors = [_ref(r) for r in refs if r.relation == "sponsor"]
    if owners and resource.resource_type in NHI_TYPES:
        doc["owners"] = owners
    elif owners:
        doc[OWNERS] = {"owners": owners}
    if sponsors:
        doc.setdefault(GOVERNANCE, {})["sponsors"] = sponsors
    state = (doc.get(GOVERNANCE) or {}).get("lifecycleState")
    if state is not None:
        doc["active"] = state == State.ACTIVE.value
    return doc


def _ref(ref: OwnerRef) -> dict[str, Any]:
    return {"value": ref.value, **({"display": ref.display} if ref.display else {})}


def on_create(
    doc: dict[str, Any],
    refs: Refs,
    resource_type: str,
    *,
    actor: Actor,
    now: dt.datetime,
    lifetimes: Lifetimes,
    parent: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Refs]:
    """Fill what the client left out (DESIGN.md "Defaults"); explicit values always win.

    A child's default end is its parent's, if that comes first (it may not outlive it).
    """
    doc = copy_doc(doc)
    _normalise_parent(doc)
    given, above = Governance.of(doc), Governance.of(parent or {})
    kind = given.kind if given.kind is not None else DEFAULT_KIND.get(resource_type, "agent")
    if unknown_kinds([kind]):
        raise InvalidValue(f"'{GOVERNANCE}:kind' must be one of {describe()}, not {kind!r}")
    hard = given.hard_expires_at or now + lifetimes.hard_cap
    write(
        doc,
        kind=kind,
        hard_expires_at=hard,
        lifecycle_state=State.ACTIVE,
        registered_by=actor.token_id,
    )
    if actor.purpose and not given.purpose:
        write(doc, purpose=actor.purpose)
    if above.environment and not given.environment:
        write(doc, environment=above.environment)  # a delegated child stays where its parent is
    if given.expires_at is None:
        ends = [now + lifetimes.default_for(kind), hard]
        write(doc, expires_at=min([*ends, *filter(None, [above.expires_at])]))
    if not doc.pop("active", True):
        suspend(doc, "requested", now)
    if refs.owners is None and actor.owner_id:
        refs = msgspec.structs.replace(refs, owners={actor.owner_id: None})
    return doc, refs


def _normalise_parent(doc: dict[str, Any]) -> None:
    """``parent`` is kept as the id it names; ``$ref`` and ``display`` are rendered."""
    parent = doc.get("parent")
    if isinstance(parent, dict) and "value" in parent:
        doc["parent"] = {"value": parent["value"]}


def on_change(
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    active_named: bool,
    now: dt.datetime,
    extension_sent: bool = True,
    keep_end: bool = True,
) -> dict[str, Any]:
    """Keep server-managed values and move the lifecycle as ``active`` asks.

    ``active: false`` suspends, ``active: true`` reactivates (RFC 7643 §4.1.1
    ``active`` is derived from the state, not stored beside it).
    """
    after = copy_doc(after)
    _normalise_parent(after)
    old = before.get(GOVERNANCE) or {}
    if not extension_sent or GOVERNANCE not in after:
        # A client that knows nothing of governance (a plain IETF PUT) does not
        # erase it: the extension it did not send is not asserted.
        after[GOVERNANCE] = copy_doc(old)
    governance = after[GOVERNANCE]
    # An end date is never removed by leaving it out of a PUT (``keep_end``); a new one
    # replaces it, and a PATCH that removes it asks for what policies then refuse.
    if keep_end and "expiresAt" in old and "expiresAt" not in governance:
        governance["expiresAt"] = old["expiresAt"]
    for name in SERVER_MANAGED:
        if name in old:
            governance[name] = old[name]
        else:
            governance.pop(name, None)
    requested = after.pop("active", None)
    if active_named and requested is not None:
        current = Governance.of_extension(old).lifecycle_state
        wanted = State.ACTIVE if requested else State.SUSPENDED
        try:
            governance["lifecycleState"] = move(current, wanted).value
        except TransitionError as exc:
            raise InvalidValue(str(exc)) from None
        if wanted is State.SUSPENDED and current is not State.SUSPENDED:
            suspend(after, "requested", now)
        elif wanted is State.ACTIVE:
            write(after, suspended_reason=None, suspended_at=None, teardown_at=None)
    return after


def attest_by(doc: dict[str, Any], since: dt.datetime, lifetimes: Lifetimes) -> None:
    """When an owner must attest again, and when the scheduler suspends it if none has.

    ``attestBy``: the last attestation (else ``since``) plus the tenant's
    period; past it the identity is flagged ``attestation_overdue`` and its
    owners are told. ``attestationSuspendAt``: that plus the attestation grace
    (policy ``tenure.scheduler.due``, reason ``unattested``).
    """
    last = Governance.of(doc).last_attested_at or since
    write(
        doc,
        attest_by=last + lifetimes.attestation,
        attestation_suspend_at=last + lifetimes.attestation + lifetimes.attestation_grace,
    )


def suspend(
    doc: dict[str, Any],
    reason: str,
    now: dt.datetime,
    *,
    teardown_in: dt.timedelta | None = None,
) -> None:
    """Suspended, why and since when (the teardown grace counts from then).

    The scheduler's suspensions also say when the teardown follows.
    """
    governance = Governance.of(doc)
    current = governance.lifecycle_state
    # Suspended already (on request): it has been so since then, now for this reason.
    since = (governance.suspended_at if current is State.SUSPENDED else None) or now
    write(
        doc,
        lifecycle_state=move(current, State.SUSPENDED),
        suspended_reason=reason,
        suspended_at=since,
    )
    if teardown_in is not None:
        write(doc, teardown_at=max(since + teardown_in, now))


def lifecycle_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The lifecycle values of a governed identity's document (``LIFECYCLE``)."""
    governance = doc.get(GOVERNANCE) or {}
    return {name: governance[name] for name in LIFECYCLE if name in governance}


def suspended(
    before: Resource, reason: str, now: dt.datetime, grace: dt.timedelta | None
) -> tuple[Resource, set[str]]:
    """A governed identity suspended for ``reason`` (``suspend``), and what that changes;
    ``grace``: the teardown follows that long after."""
    doc = copy_doc(before.doc)
    suspend(doc, reason, now, teardown_in=grace)
    after = msgspec.structs.replace(before, doc=doc, version=before.version + 1, last_modified=now)
    changed = {"active", f"{GOVERNANCE}:lifecycleState", f"{GOVERNANCE}:teardownAt"}
    return after, changed


def copy_doc(doc: dict[str, Any]) -> dict[str, Any]:
    return msgspec.json.decode(msgspec.json.encode(doc))  # type: ignore[no-any-return]
