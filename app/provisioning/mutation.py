"""The one path every change takes: load (locked) → compute (pure) → write, in one transaction.

Cedar's ``decide`` step joins between compute and write when policies land;
until then the caller's role is checked by the API before a Mutation is built.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

import msgspec

from app.domain.actor import Actor
from app.domain.clock import Clock
from app.domain.resource import Member, Resource
from app.provisioning.compute import Draft, check_if_match, draft_create, draft_replace
from app.scim.errors import Forbidden, InvalidValue, NotFound
from app.scim.schema import Registry
from app.store.uow import Database, UnitOfWork


class MutationKind(enum.StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"


class Mutation(msgspec.Struct, frozen=True, kw_only=True):
    kind: MutationKind
    actor: Actor
    resource_type: str  # "User" | "Group"
    resource_id: str | None = None
    body: dict[str, Any] | None = None
    if_match: str | None = None


class Provisioning:
    """Runs Mutations against the store; the only writer of SCIM resources."""

    def __init__(self, db: Database, registry: Registry, clock: Clock) -> None:
        self._db = db
        self._registry = registry
        self._clock = clock

    async def run(self, mutation: Mutation) -> Resource | None:
        """Apply ``mutation``; returns the state after (None for a delete)."""
        tenant_id = mutation.actor.tenant_id
        if tenant_id is None:
            raise Forbidden("this token belongs to no tenant")
        resource_type = self._registry.resource_type(mutation.resource_type)
        now = self._clock.now()
        async with self._db.uow(write=True) as uow:
            before = None
            if mutation.kind is not MutationKind.CREATE:
                assert mutation.resource_id is not None
                before = await uow.resources.get(
                    tenant_id, mutation.resource_type, mutation.resource_id, lock=True
                )
                if before is None:
                    raise NotFound(f"{mutation.resource_type} {mutation.resource_id} not found")
                check_if_match(mutation.if_match, before)

            if mutation.kind is MutationKind.DELETE:
                assert before is not None
                containing = await uow.resources.groups_with_member(tenant_id, before.id)
                await uow.resources.delete(tenant_id, before.resource_type, before.id)
                await uow.resources.touch(tenant_id, containing, now)
                await uow.commit()
                return None

            body = mutation.body or {}
            if before is None:
                draft = draft_create(
                    body,
                    resource_type,
                    tenant_id=tenant_id,
                    resource_id=str(uuid.uuid4()),
                    now=now,
                )
            else:
                draft = draft_replace(before, body, resource_type, now=now)
            after = await _with_members(uow, draft, before)
            if before is None:
                await uow.resources.add(after)
            else:
                await uow.resources.replace(after, members_changed=draft.member_ids is not None)
            await uow.commit()
        return after


async def _with_members(uow: UnitOfWork, draft: Draft, before: Resource | None) -> Resource:
    """Members are Users or Groups of the same tenant (RFC 7643 §4.2); 400 names the first not."""
    resource = draft.resource
    if resource.resource_type != "Group":
        return resource
    if draft.member_ids is None:
        kept = before.members if before is not None else ()
        return msgspec.structs.replace(resource, members=kept)
    found = await uow.resources.find_members(resource.tenant_id, draft.member_ids)
    missing = [member_id for member_id in draft.member_ids if member_id not in found]
    if missing:
        raise InvalidValue(f"member {missing[0]!r} is not a User or Group of this tenant")
    # Stored and listed in member id order, so a write answers as a later read will.
    members: tuple[Member, ...] = tuple(found[member_id] for member_id in sorted(draft.member_ids))
    return msgspec.structs.replace(resource, members=members)
