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
from app.domain.lifecycle import State, TransitionError, move
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import TenantSettings
from app.scim.codec import format_datetime, parse_datetime
from app.scim.errors import InvalidValue
from app.scim.schema import GOVERNANCE_URN

GOVERNANCE = GOVERNANCE_URN
NHI_TYPES = frozenset({"Agent", "ServiceAccount"})
DEFAULT_KIND = {"Agent": "agent", "ServiceAccount": "service_account"}
# Set by the server only: a PUT that omits them keeps them.
SERVER_MANAGED = ("lifecycleState", "suspendedReason", "registeredBy")


class Lifetimes(msgspec.Struct, frozen=True, kw_only=True):
    """Tenant defaults, as Vault gives a lease a default TTL."""

    default: dict[str, dt.timedelta]  # by kind
    hard_cap: dt.timedelta  # hardExpiresAt when the client gives none
    max_depth: int  # delegation depth: a root agent is depth 1

    def default_for(self, kind: str) -> dt.timedelta:
        return self.default.get(kind, self.default["agent"])

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
        )


class Refs(msgspec.Struct, frozen=True, kw_only=True):
    """Owners and sponsors named by a write: id → display as sent (None: not asserted)."""

    owners: dict[str, str | None] | None
    sponsors: dict[str, str | None] | None


def governed(resource_type: str, doc: dict[str, Any]) -> bool:
    if resource_type in NHI_TYPES:
        return True
    extension = doc.get(GOVERNANCE)
    return resource_type == "User" and isinstance(extension, dict) and bool(extension.get("kind"))


def take_refs(doc: dict[str, Any], body_named: set[str]) -> Refs:
    """Pop ``owners`` and Governance ``sponsors`` out of ``doc``: they live in their own table.

    ``body_named`` says which of them the request named at all, so that a PUT
    without owners keeps them while ``"owners": []`` clears them.
    """
    owners = _refs(doc.pop("owners", None), "owners")
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
    doc = _copy(doc)
    refs = resource.owners or ()
    owners = [_ref(r) for r in refs if r.relation == "owner"]
    sponsors = [_ref(r) for r in refs if r.relation == "sponsor"]
    if owners:
        doc["owners"] = owners
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
    doc = _copy(doc)
    governance = doc.setdefault(GOVERNANCE, {})
    kind = governance.setdefault("kind", DEFAULT_KIND.get(resource_type, "agent"))
    if actor.purpose and not governance.get("purpose"):
        governance["purpose"] = actor.purpose
    hard = _time(governance.get("hardExpiresAt")) or now + lifetimes.hard_cap
    governance["hardExpiresAt"] = format_datetime(hard)
    if "expiresAt" not in governance:
        ends = [now + lifetimes.default_for(kind), hard]
        parent_end = _time((parent or {}).get(GOVERNANCE, {}).get("expiresAt"))
        if parent_end is not None:
            ends.append(parent_end)
        governance["expiresAt"] = format_datetime(min(ends))
    requested = doc.pop("active", True)
    governance["lifecycleState"] = (State.ACTIVE if requested else State.SUSPENDED).value
    if not requested:
        governance["suspendedReason"] = "requested"
    governance["registeredBy"] = actor.token_id
    if not refs.owners and actor.owner_id:
        refs = msgspec.structs.replace(refs, owners={actor.owner_id: None})
    return doc, refs


def on_change(
    before: dict[str, Any], after: dict[str, Any], *, active_named: bool
) -> dict[str, Any]:
    """Keep server-managed values and move the lifecycle as ``active`` asks.

    ``active: false`` suspends, ``active: true`` reactivates (RFC 7643 §4.1.1
    ``active`` is derived from the state, not stored beside it).
    """
    after = _copy(after)
    old = before.get(GOVERNANCE) or {}
    if GOVERNANCE not in after:
        # A client that knows nothing of governance (a plain IETF PUT) does not
        # erase it: the extension it did not send is not asserted.
        after[GOVERNANCE] = _copy(old)
    governance = after[GOVERNANCE]
    # An end date is never removed by leaving it out; a new one replaces it.
    if "expiresAt" in old and "expiresAt" not in governance:
        governance["expiresAt"] = old["expiresAt"]
    for name in SERVER_MANAGED:
        if name in old:
            governance[name] = old[name]
        else:
            governance.pop(name, None)
    requested = after.pop("active", None)
    if active_named and requested is not None:
        current = State(old.get("lifecycleState", State.ACTIVE.value))
        wanted = State.ACTIVE if requested else State.SUSPENDED
        try:
            governance["lifecycleState"] = move(current, wanted).value
        except TransitionError as exc:
            raise InvalidValue(str(exc)) from None
        if wanted is State.SUSPENDED and current is not State.SUSPENDED:
            governance["suspendedReason"] = "requested"
        elif wanted is State.ACTIVE:
            governance.pop("suspendedReason", None)
    return after


def check(
    doc: dict[str, Any],
    *,
    now: dt.datetime,
    created: dt.datetime,
    parent: dict[str, Any] | None,
    depth: int,
    lifetimes: Lifetimes,
    expires_changed: bool,
) -> None:
    """Data-integrity rules; 400 ``invalidValue`` with the reason (policies may add more)."""
    governance = doc.get(GOVERNANCE) or {}
    expires = _time(governance.get("expiresAt"))
    hard = _time(governance.get("hardExpiresAt"))
    if expires is not None and expires_changed and expires <= now:
        raise InvalidValue(f"expiresAt {governance['expiresAt']} is not in the future")
    if expires is not None and hard is not None and expires > hard:
        raise InvalidValue(
            f"expiresAt {governance['expiresAt']} is beyond hardExpiresAt "
            f"{governance['hardExpiresAt']}, which no renewal may pass"
        )
    if hard is not None and hard < created:
        raise InvalidValue("hardExpiresAt is before the identity was created")
    if parent is None:
        return
    if depth > lifetimes.max_depth:
        raise InvalidValue(f"delegation deeper than {lifetimes.max_depth} levels")
    parent_governance = parent.get(GOVERNANCE) or {}
    parent_expires = _time(parent_governance.get("expiresAt"))
    if parent_expires is not None and (expires is None or expires > parent_expires):
        raise InvalidValue(
            f"a child may not outlive its parent: expiresAt must be at most "
            f"{parent_governance['expiresAt']}"
        )
    extra = set(governance.get("scopes") or ()) - set(parent_governance.get("scopes") or ())
    if extra:
        raise InvalidValue(
            "a child's scopes must be a subset of its parent's; not granted to the parent: "
            + ", ".join(sorted(extra))
        )


def _time(value: Any) -> dt.datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _copy(doc: dict[str, Any]) -> dict[str, Any]:
    return msgspec.json.decode(msgspec.json.encode(doc))  # type: ignore[no-any-return]
