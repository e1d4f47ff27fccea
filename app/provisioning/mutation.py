"""The one path every change takes: load (locked) → compute (pure) → write, in one transaction.

Cedar's ``decide`` step joins between compute and write when policies land;
until then the caller's role is checked by the API before a Mutation is built.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

import msgspec

from app.domain.actor import Actor
from app.domain.clock import Clock
from app.domain.resource import Member, Resource
from app.policy.engine import PolicyEngine
from app.policy.entities import Subject
from app.provisioning import members, nhi
from app.provisioning.compute import Draft, check_if_match, draft_create, draft_replace
from app.provisioning.governance import Governance, named_refs, with_aliases
from app.scim.codec import asserts
from app.scim.errors import Forbidden, InvalidValue, NotFound
from app.scim.filter import AttrPath, ValuePath
from app.scim.match import element_matches
from app.scim.patch import apply_patch, read_patch
from app.scim.resolve import resolve_filter
from app.scim.schema import Registry, ResourceType
from app.store.uow import Database, UnitOfWork


class MutationKind(enum.StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"
    DELETE = "delete"


class Mutation(msgspec.Struct, frozen=True, kw_only=True):
    kind: MutationKind
    actor: Actor
    resource_type: str  # "User" | "Group"
    resource_id: str | None = None
    body: dict[str, Any] | None = None
    if_match: str | None = None
    # What the caller will show of the result; a Group's members are loaded only if asked.
    with_members: bool = True
    with_groups: bool = True


_ACTIONS = {"create": "create", "replace": "update", "patch": "update", "delete": "delete"}


class Provisioning:
    """Runs Mutations against the store; the only writer of SCIM resources."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        clock: Clock,
        governance: Governance,
        policy: PolicyEngine,
    ) -> None:
        self._db = db
        self._registry = registry
        self._clock = clock
        self._governance = governance
        self._policy = policy

    def precheck(self, actor: Actor, kind: MutationKind, resource_type: str) -> None:
        """Refuse early, before a request body is even read, what policy will refuse anyway.

        The pipeline decides again on the identity as it would be after the change.
        """
        self._decide(actor, kind, resource_type, "(new)", actor.tenant_id or "")

    def _decide(
        self, actor: Actor, kind: MutationKind, resource_type: str, resource_id: str, tenant_id: str
    ) -> None:
        """Step 3 of every mutation (DESIGN.md): Cedar decides; anything but Allow is a 403."""
        decision = self._policy.decide(
            actor,
            _ACTIONS[kind.value],
            Subject(resource_type=resource_type, resource_id=resource_id, tenant_id=tenant_id),
            self._clock.now(),
        )
        if not decision.allowed:
            raise Forbidden(decision.explain())

    async def run(self, mutation: Mutation) -> Resource | None:
        """Apply ``mutation``; returns the state after (None for a delete)."""
        tenant_id = mutation.actor.tenant_id
        if tenant_id is None:
            raise Forbidden("this token belongs to no tenant")
        resource_type = self._registry.resource_type(mutation.resource_type)
        async with self._db.uow(write=True) as uow:
            after = await self._apply(uow, mutation, tenant_id, resource_type)
            if after is not None:
                after = await self._with_relations(uow, after, mutation)
            await uow.commit()
        return after

    async def _apply(
        self, uow: UnitOfWork, mutation: Mutation, tenant_id: str, resource_type: ResourceType
    ) -> Resource | None:
        now = self._clock.now()
        body = with_aliases(mutation.body or {})
        if mutation.kind is MutationKind.CREATE:
            draft = draft_create(
                body, resource_type, tenant_id=tenant_id, resource_id=str(uuid.uuid4()), now=now
            )
            after = await _resolve_members(uow, draft)
            refs = None
            if nhi.governed(resource_type.name, after.doc):
                doc = dict(after.doc)
                refs = nhi.take_refs(doc, named_refs(body, resource_type))
                after, refs = await self._governance.created(
                    uow, msgspec.structs.replace(after, doc=doc), refs, mutation.actor, now
                )
            self._decide(mutation.actor, mutation.kind, after.resource_type, after.id, tenant_id)
            await uow.resources.add(after)
            if refs is not None:
                await self._governance.write_refs(uow, after, refs)
            return after

        assert mutation.resource_id is not None
        # Locked, without side tables: a group of 100,000 members is not read to rename it.
        before = await uow.resources.get(
            tenant_id, mutation.resource_type, mutation.resource_id, lock=True,
            members=False, groups=False,
        )  # fmt: skip
        if before is None:
            raise NotFound(f"{mutation.resource_type} {mutation.resource_id} not found")
        check_if_match(mutation.if_match, before)

        governed = nhi.governed(resource_type.name, before.doc)
        if mutation.kind is MutationKind.DELETE:
            self._decide(mutation.actor, mutation.kind, before.resource_type, before.id, tenant_id)
        if mutation.kind is MutationKind.DELETE and governed:
            await self._governance.deleted(uow, before, now)
            return None
        if mutation.kind is MutationKind.DELETE:
            containing = await uow.resources.groups_with_member(tenant_id, before.id)
            await uow.resources.delete(tenant_id, before.resource_type, before.id)
            await uow.resources.touch(tenant_id, containing, now)
            return None

        if mutation.kind is MutationKind.REPLACE:
            draft = draft_replace(before, body, resource_type, now=now)
            after = await _resolve_members(uow, draft)
            refs = None
            if governed or nhi.governed(resource_type.name, after.doc):
                doc = dict(after.doc)
                refs = nhi.take_refs(doc, named_refs(body, resource_type))
                after = await self._governance.changed(
                    uow,
                    before,
                    msgspec.structs.replace(after, doc=doc),
                    active_named=asserts(body, resource_type, "active"),
                    now=now,
                )
            self._decide(mutation.actor, mutation.kind, after.resource_type, after.id, tenant_id)
            await uow.resources.replace(after, members_changed=draft.members is not None)
            if refs is not None:
                await self._governance.write_refs(uow, after, refs)
            return after

        # A PATCH's members change as the patch is applied: decide before any of it.
        self._decide(mutation.actor, mutation.kind, before.resource_type, before.id, tenant_id)
        return await self._patch(uow, before, body, resource_type, now)

    async def _patch(
        self,
        uow: UnitOfWork,
        before: Resource,
        body: dict[str, Any],
        resource_type: ResourceType,
        now: dt.datetime,
    ) -> Resource:
        """RFC 7644 §3.5.2: atomic; a PATCH that changes nothing writes nothing."""
        operations = read_patch(body)
        delta = members.MemberDelta()
        if resource_type.name == "Group":
            operations, delta = members.split(operations)
        current = dict(before.doc)
        if before.external_id is not None:
            current["externalId"] = before.external_id
        governed = nhi.governed(resource_type.name, before.doc)
        if governed:
            current = nhi.with_refs(current, before)
        result = apply_patch(current, operations, resource_type)
        doc = dict(result.doc)
        external_id = doc.pop("externalId", None)
        members_changed = await _apply_member_delta(uow, before, delta, resource_type)
        if not result.changed and not members_changed:
            return before
        after = msgspec.structs.replace(
            before,
            doc=doc,
            external_id=external_id,
            version=before.version + 1,
            last_modified=now,
        )
        refs = None
        if governed or nhi.governed(resource_type.name, doc):
            named = {
                name
                for name, path in (("owners", "owners"), ("sponsors", f"{nhi.GOVERNANCE}:sponsors"))
                if any(c == path or c.startswith(path + ".") for c in result.changed)
            }
            doc = dict(doc)
            refs = nhi.take_refs(doc, named)
            refs = nhi.Refs(
                owners=refs.owners if "owners" in named else None,
                sponsors=refs.sponsors if "sponsors" in named else None,
            )
            after = await self._governance.changed(
                uow,
                before,
                msgspec.structs.replace(after, doc=doc),
                active_named="active" in result.changed,
                now=now,
            )
        await uow.resources.replace(after)
        if refs is not None:
            await self._governance.write_refs(uow, after, refs)
        return after

    async def _with_relations(
        self, uow: UnitOfWork, resource: Resource, mutation: Mutation
    ) -> Resource:
        """Reload side tables the response shows, inside the same transaction."""
        wants_members = resource.resource_type == "Group" and mutation.with_members
        wants_groups = resource.resource_type != "Group" and mutation.with_groups
        # Members as written lack the live display of those sent without one: read them
        # back; so do a governed identity's owners, whose status is read live.
        governed = nhi.governed(resource.resource_type, resource.doc)
        if wants_members or (resource.groups is None and wants_groups) or governed:
            reloaded = await uow.resources.get(
                resource.tenant_id,
                resource.resource_type,
                resource.id,
                members=wants_members,
                groups=wants_groups,
            )
            assert reloaded is not None
            return reloaded
        return resource


async def _resolve_members(uow: UnitOfWork, draft: Draft) -> Resource:
    """Members are Users or Groups of the same tenant (RFC 7643 §4.2); 400 names the first not."""
    resource = draft.resource
    if resource.resource_type != "Group" or draft.members is None:
        return resource
    found = await _existing_members(uow, resource.tenant_id, draft.members)
    # The response reads them back, with the display of members named without one.
    return msgspec.structs.replace(resource, members=tuple(found))


async def _existing_members(
    uow: UnitOfWork, tenant_id: str, requested: dict[str, str | None]
) -> list[Member]:
    """The requested members, each checked to be a live User or Group of the tenant."""
    found = await uow.resources.find_members(tenant_id, requested)
    missing = [member_id for member_id in requested if member_id not in found]
    if missing:
        raise InvalidValue(f"member {missing[0]!r} is not a User or Group of this tenant")
    return [
        Member(value=member_id, type=found[member_id].type, display=display)
        for member_id, display in requested.items()
    ]


async def _apply_member_delta(
    uow: UnitOfWork, group: Resource, delta: members.MemberDelta, resource_type: ResourceType
) -> bool:
    """Apply a membership delta with set-based statements; True if any row changed."""
    if delta.empty:
        return False
    if group.id in delta.add:
        raise InvalidValue("a Group cannot be a member of itself")
    adding = await _existing_members(uow, group.tenant_id, delta.add)
    removing = list(delta.remove)
    if delta.remove_where:
        attribute = resource_type.schema.attribute("members")
        assert attribute is not None
        stored = await uow.resources.member_refs(group.id)
        for condition in delta.remove_where:
            path = AttrPath(attr="members")
            bound = resolve_filter(ValuePath(path=path, filter=condition), resource_type)
            assert isinstance(bound, ValuePath)
            removing += [
                ref.value
                for ref in stored
                if element_matches(bound.filter, {"value": ref.value, "type": ref.type}, attribute)
            ]
    return await uow.resources.change_members(
        group,
        clear=delta.clear,
        remove=removing,
        add=adding,
    )
