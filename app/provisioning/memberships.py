"""Group memberships a change names, checked against the store and written as deltas.

Members are Users or Groups of the same tenant (RFC 7643 §4.2); a PATCH's
membership operations (members.py, pure) are applied with set-based statements
under the Group's row lock, never by rewriting the whole Group.
"""

from __future__ import annotations

import msgspec

from app.domain.resource import Member, Resource
from app.provisioning import members
from app.provisioning.compute import Draft
from app.scim.errors import InvalidValue
from app.scim.filter import AttrPath, ValuePath
from app.scim.match import element_matches
from app.scim.resolve import resolve_filter
from app.scim.schema import ResourceType
from app.store.uow import UnitOfWork


async def resolve_members(uow: UnitOfWork, draft: Draft) -> Resource:
    """Members are Users or Groups of the same tenant (RFC 7643 §4.2); 400 names the first not."""
    resource = draft.resource
    if resource.resource_type != "Group" or draft.members is None:
        return resource
    found = await existing_members(uow, resource.tenant_id, draft.members)
    # The response reads them back, with the display of members named without one.
    return msgspec.structs.replace(resource, members=tuple(found))


async def existing_members(
    uow: UnitOfWork, tenant_id: str, requested: dict[str, str | None]
) -> list[Member]:
    """The requested members, each checked to be a live User or Group of the tenant."""
    found = await uow.of(tenant_id).memberships.find_members(requested)
    missing = [member_id for member_id in requested if member_id not in found]
    if missing:
        raise InvalidValue(f"member {missing[0]!r} is not a User or Group of this tenant")
    return [
        Member(value=member_id, type=found[member_id].type, display=display)
        for member_id, display in requested.items()
    ]


async def apply_member_delta(
    uow: UnitOfWork, group: Resource, delta: members.MemberDelta, resource_type: ResourceType
) -> bool:
    """Apply a membership delta with set-based statements; True if any row changed."""
    if delta.empty:
        return False
    if group.id in delta.add:
        raise InvalidValue("a Group cannot be a member of itself")
    adding = await existing_members(uow, group.tenant_id, delta.add)
    removing = list(delta.remove)
    if delta.remove_where:
        attribute = resource_type.schema.attribute("members")
        assert attribute is not None
        stored = await uow.of(group.tenant_id).memberships.member_refs(group.id)
        for condition in delta.remove_where:
            path = AttrPath(attr="members")
            bound = resolve_filter(ValuePath(path=path, filter=condition), resource_type)
            assert isinstance(bound, ValuePath)
            removing += [
                ref.value
                for ref in stored
                if element_matches(bound.filter, {"value": ref.value, "type": ref.type}, attribute)
            ]
    return await uow.of(group.tenant_id).memberships.change_members(
        group,
        clear=delta.clear,
        remove=removing,
        add=adding,
    )
