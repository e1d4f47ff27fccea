"""A governed identity's Governance extension as a typed record (DESIGN.md "Identity model").

The stored SCIM document keeps the extension in its wire form, under
``urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance`` (schemas/Governance.json),
because that is what SCIM renders, filters and PATCHes. Code that reasons about
an identity reads it through ``Governance.of(doc)``: instants as aware
datetimes, the lifecycle state as ``State``, absent values as None — instead
of looking keys up in the document and parsing strings where it needs them.
Sponsors are not here: they live with the owners (``Resource.owners``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from app.domain.instants import format_instant, parse_instant
from app.domain.lifecycle import State

URN = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"


class Governance(msgspec.Struct, frozen=True, kw_only=True):
    """schemas/Governance.json, attribute for attribute (``complianceIssues`` is computed)."""

    kind: str | None = None
    purpose: str | None = None
    environment: str | None = None
    scopes: tuple[str, ...] | None = None  # None: the identity names none
    expires_at: dt.datetime | None = None
    hard_expires_at: dt.datetime | None = None
    lifecycle_state: State = State.ACTIVE
    suspended_reason: str | None = None
    suspended_at: dt.datetime | None = None
    teardown_at: dt.datetime | None = None
    last_attested_at: dt.datetime | None = None
    attest_by: dt.datetime | None = None
    attestation_suspend_at: dt.datetime | None = None
    orphaned_at: dt.datetime | None = None
    suspend_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    registered_by: str | None = None
    registered_at: dt.datetime | None = None

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Governance:
        """The record ``doc`` carries; all defaults when it carries no extension.

        Tolerant by design: a value of the wrong shape reads as absent, since
        what was stored was validated when it was written (RFC 7643 §2.3).
        """
        extension = doc.get(URN)
        if not isinstance(extension, Mapping) or not extension:
            return _NONE  # most Users: no extension, nothing to parse
        return cls.of_extension(extension)

    @classmethod
    def of_extension(cls, extension: Mapping[str, Any]) -> Governance:
        """The record of the extension's own object (the value under ``URN``)."""
        scopes = extension.get("scopes")
        return cls(
            kind=_text(extension.get("kind")),
            purpose=_text(extension.get("purpose")),
            environment=_text(extension.get("environment")),
            scopes=tuple(s for s in scopes if isinstance(s, str))
            if isinstance(scopes, list)
            else None,
            lifecycle_state=_state(extension.get("lifecycleState")),
            suspended_reason=_text(extension.get("suspendedReason")),
            registered_by=_text(extension.get("registeredBy")),
            **{name: _instant(extension.get(key)) for name, key in _INSTANTS.items()},
        )

    def due(self, instant: str) -> dt.datetime | None:
        """One of the record's instants by its SCIM name (``expiresAt``, ``attestBy``, …)."""
        return getattr(self, _NAMES[instant])  # type: ignore[no-any-return]


def write(doc: dict[str, Any], **fields: Any) -> None:
    """Set the record's ``fields`` (by their names here) in ``doc``'s extension, in wire
    form: instants as RFC 3339, the state as its value; None removes the attribute.

    ``doc`` is the caller's own copy. Only the named attributes are touched, so
    what a client wrote elsewhere in the extension stays exactly as it wrote it.
    """
    extension = doc.setdefault(URN, {})
    for name, value in fields.items():
        key = _WIRE[name]
        if value is None:
            extension.pop(key, None)
        elif isinstance(value, dt.datetime):
            extension[key] = format_instant(value)
        elif isinstance(value, State):
            extension[key] = value.value
        elif isinstance(value, tuple):
            extension[key] = list(value)
        else:
            extension[key] = value


_NONE = Governance()
# Each field's SCIM attribute name (``expires_at`` → ``expiresAt``), and which are instants.
_WIRE = {
    name: name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
    for name in Governance.__struct_fields__
}
_INSTANTS = {
    f.name: _WIRE[f.name] for f in msgspec.structs.fields(Governance) if "datetime" in str(f.type)
}
_NAMES = {key: name for name, key in _INSTANTS.items()}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _instant(value: Any) -> dt.datetime | None:
    return parse_instant(value) if isinstance(value, str) else None


def _state(value: Any) -> State:
    try:
        return State(value) if isinstance(value, str) else State.ACTIVE
    except ValueError:
        return State.ACTIVE
