"""What the resources table keeps in promoted columns, shared by writes and filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.domain.governance import Governance
from app.domain.lifecycle import State
from app.scim.schema import GOVERNANCE_URN

# The attribute each resource type is unique by (RFC 7643 §4.1.1 userName,
# §4.2 displayName), kept folded in the indexed name_norm column.
UNIQUE_NAME = {
    "User": "userName",
    "Group": "displayName",
    "Agent": "name",
    "ServiceAccount": "name",
}
# Resource types that may be Group members or hold Group memberships.
MEMBER_TYPES = ("User", "Group", "Agent", "ServiceAccount")
GOVERNANCE = GOVERNANCE_URN


def lifecycle_record(doc: dict[str, Any]) -> Governance | None:
    """The Governance record of a document that records a lifecycle state (a governed
    identity's); None for any other, whose promoted state and due time stay empty."""
    extension = doc.get(GOVERNANCE)
    if not isinstance(extension, dict) or "lifecycleState" not in extension:
        return None
    return Governance.of_extension(extension)


def due_at(doc: dict[str, Any]) -> dt.datetime | None:
    """``due_of`` the document's lifecycle record; None without one."""
    governance = lifecycle_record(doc)
    return due_of(governance) if governance is not None else None


def due_of(governance: Governance) -> dt.datetime | None:
    """When the sweeper must next look at a governed identity (DESIGN.md "Lifecycle").

    An active one at its end; a suspended one at its teardown time, or, when
    none is set yet (suspended on request), at its end; a deprovisioned one never.
    """
    if governance.lifecycle_state is State.ACTIVE:
        # At its end, or sooner when, ownerless or unattested, it is to be suspended.
        moments = [
            m
            for m in (
                governance.expires_at,
                governance.suspend_at,
                governance.attestation_suspend_at,
            )
            if m is not None
        ]
        return min(moments) if moments else None
    if governance.lifecycle_state is State.SUSPENDED:
        return governance.teardown_at or governance.expires_at
    return None


def fold(text: str) -> str:
    """The case folding of every case-insensitive comparison, in SQL and in Python.

    ``str.lower`` rather than ``casefold``: PostgreSQL's lower() and the
    function registered on SQLite connections (tenure_lower) agree with it.
    """
    return text.lower()


# Nested groups (RFC 7643 §4.1.2 "indirect") are followed this deep, when
# rendering a User's groups and when filtering on groups.value alike.
MAX_NESTING = 16
