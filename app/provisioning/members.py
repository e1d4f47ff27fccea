"""Group membership PATCH (RFC 7644 §3.5.2 on ``members``) as a delta on the side table.

Membership changes never load or rewrite the whole group: the operations on
``members`` are taken out of the PATCH and turned into ids to add and to
remove, which the store applies with set-based statements under the group's
row lock. Adding a member twice or removing a non-member is not an error:
identity providers do both (RFC 7644 §3.5.2.1 "the service provider SHALL
NOT return an error" for an existing value).
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.scim.errors import InvalidValue, Mutability
from app.scim.filter import Compare, Filter, Or
from app.scim.patch import PatchOperation

MEMBERS = "members"


class MemberDelta(msgspec.Struct, kw_only=True):
    """Membership change of one PATCH, in order: clear, then remove, then add."""

    clear: bool = False
    remove: list[str] = msgspec.field(default_factory=list)
    add: dict[str, str | None] = msgspec.field(default_factory=dict)  # id → display as sent
    # Filters that are not plain ``value eq`` lists; evaluated against the stored members.
    remove_where: list[Filter] = msgspec.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.clear or self.remove or self.add or self.remove_where)


def split(operations: list[PatchOperation]) -> tuple[list[PatchOperation], MemberDelta]:
    """The operations that are not about ``members``, and the membership delta of those that are."""
    rest: list[PatchOperation] = []
    delta = MemberDelta()
    for operation in operations:
        path = operation.path
        if path is None:
            value = operation.value
            key = _members_key(value) if isinstance(value, dict) else None
            if key is None:
                rest.append(operation)
                continue
            _whole(operation.op, value[key], delta, operation.index)
            others = {k: v for k, v in value.items() if k != key}
            if others:
                rest.append(msgspec.structs.replace(operation, value=others))
            continue
        if path.path.urn is not None or path.path.attr.lower() != MEMBERS:
            rest.append(operation)
            continue
        if path.path.sub is not None or path.sub is not None:
            raise Mutability("a member's sub-attributes are immutable; remove and add the member")
        if path.filter is None:
            _whole(operation.op, operation.value, delta, operation.index)
        elif operation.op == "remove":
            ids = _value_eq_ids(path.filter)
            if ids is None:
                delta.remove_where.append(path.filter)
            else:
                delta.remove += ids
        else:
            raise InvalidValue(
                f"operation {operation.index}: '{operation.op}' on members[…] is not meaningful;"
                " add or remove members by value"
            )
    return rest, delta


def _members_key(value: dict[str, Any]) -> str | None:
    return next((k for k in value if isinstance(k, str) and k.lower() == MEMBERS), None)


def _whole(op: str, value: Any, delta: MemberDelta, index: int) -> None:
    named = _named(value, index)
    if op == "add":
        delta.add.update(named)
    elif op == "replace":
        delta.clear, delta.remove, delta.add = True, [], named
    elif value is None:  # remove with no value: every member
        delta.clear, delta.remove, delta.add = True, [], {}
    else:  # remove with a value: those members (Okta, Entra)
        delta.remove += list(named)
        for member_id in named:
            delta.add.pop(member_id, None)


def _named(value: Any, index: int) -> dict[str, str | None]:
    """Member objects → id → display as sent (keys in any case)."""
    if value is None:
        return {}
    items = value if isinstance(value, list) else [value]
    named: dict[str, str | None] = {}
    for item in items:
        fields = {k.lower(): v for k, v in item.items()} if isinstance(item, dict) else {}
        member = fields.get("value")
        if not isinstance(member, str) or not member:
            raise InvalidValue(f"operation {index}: each member needs a 'value' (its id)")
        display = fields.get("display")
        named[member] = display if isinstance(display, str) else None
    return named


def _value_eq_ids(node: Filter) -> list[str] | None:
    """``value eq "a" or value eq "b"`` → ["a", "b"]; None for any other filter."""
    if isinstance(node, Or):
        left, right = _value_eq_ids(node.left), _value_eq_ids(node.right)
        return None if left is None or right is None else left + right
    if (
        isinstance(node, Compare)
        and node.op == "eq"
        and node.path.urn is None
        and node.path.sub is None
        and node.path.attr.lower() == "value"
        and isinstance(node.value, str)
    ):
        return [node.value]
    return None
