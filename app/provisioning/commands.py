"""The commands every change arrives as, decoded once at the edge (SCIM, /Bulk, admin, CLI,
the scheduler): what to do, to which resource, by whom, and why."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from app.domain.actor import Actor


class MutationKind(enum.StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"
    DELETE = "delete"
    # The scheduler's (and a dry run's) own: Cedar action ids of the same name.
    SUSPEND = "suspend"
    TEARDOWN = "teardown"
    # An admin's: a deleted identity back within its teardown grace.
    RESTORE = "restore"


class Mutation(msgspec.Struct, frozen=True, kw_only=True):
    kind: MutationKind
    actor: Actor
    resource_type: str
    resource_id: str | None = None
    body: dict[str, Any] | None = None
    if_match: str | None = None
    # Why, for the scheduler's suspend and teardown: expired, orphaned, unattested.
    reason: str = "request"
    # What the caller will show of the result; a Group's members are loaded only if asked.
    with_members: bool = True
    with_groups: bool = True


# Cedar's action for each kind before refinement (policy.proposal.actions_for).
CEDAR_ACTION = {
    MutationKind.CREATE: "create",
    MutationKind.REPLACE: "update",
    MutationKind.PATCH: "update",
    MutationKind.DELETE: "delete",
    MutationKind.SUSPEND: "suspend",
    MutationKind.TEARDOWN: "teardown",
    MutationKind.RESTORE: "restore",
}
