"""Resolved SCIM filters (app.scim.resolve) → one SQL WHERE clause.

RFC 7644 §3.4.2.2 semantics, the same as ``app.scim.match``'s in-memory
evaluator (a property test holds the two together on both backends):
- promoted, indexed columns where they exist (id, externalId, the unique name,
  meta.created/lastModified/resourceType, active); JSON functions elsewhere;
  EXISTS over multi-valued attributes and the group_members side table;
- strings compare case-insensitively (``str.lower`` semantics) unless caseExact;
- every atomic test is two-valued: an absent attribute fails ``eq`` and passes
  ``ne`` (``ne`` is ``not eq``), so ``not (…)`` means what it says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from app.scim.codec import format_datetime, parse_datetime
from app.scim.errors import InvalidFilter
from app.scim.filter import And, Compare, Filter, Not, Or, Present, ValuePath
from app.scim.resolve import Resolved, resolve_attr
from app.scim.schema import OWNERS_URN, Attribute, ResourceType
from app.store.jsonsql import JsonSql
from app.store.memberships import in_any_group, member_rows_of
from app.store.owners import answering_for, holder_of
from app.store.promoted import GOVERNANCE, MAX_NESTING, UNIQUE_NAME, fold
from app.store.tables import group_members, nhi_owners, resources

_LIKE_ESCAPE = "\\"


def _like(value: str, op: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"co": f"%{escaped}%", "sw": f"{escaped}%", "ew": f"%{escaped}"}[op]


def _bool(expr: Any) -> sa.ColumnElement[bool]:
    """An atomic test, left as is so indexes serve it.

    Its SQL NULL (an absent value) already filters like false through AND, OR
    and WHERE; only negation needs it made false first (see ``_not``).
    """
    return expr  # type: ignore[no-any-return]


def _not(expr: Any) -> sa.ColumnElement[bool]:
    """Two-valued NOT: ``not (title eq "x")`` matches a resource without a title."""
    return sa.not_(sa.func.coalesce(expr, sa.false()))


class FilterCompiler:
    """Compiles one resolved filter for one resource type and dialect."""

    def __init__(
        self,
        resource_type: ResourceType,
        dialect: str,
        tenant_id: str,
        now: dt.datetime | None = None,
    ) -> None:
        self._ctes = 0
        # Side-table rows are matched by the tenant too, never by ids alone.
        self.tenant_id = tenant_id
        self.now = now  # effective state: past expiresAt an identity is not active
        self.resource_type = resource_type
        self.json = JsonSql(dialect)
        self.sqlite = dialect == "sqlite"

    def where(self, node: Filter) -> sa.ColumnElement[bool]:
        if isinstance(node, And):
            return sa.and_(self.where(node.left), self.where(node.right))
        if isinstance(node, Or):
            return sa.or_(self.where(node.left), self.where(node.right))
        if isinstance(node, Not):
            return _not(self.where(node.inner))
        if isinstance(node, ValuePath):
            return self._value_path(node)
        resolved = resolve_attr(node.path, self.resource_type)
        if isinstance(node, Compare) and node.op == "ne":
            return _not(self.where(Compare(path=node.path, op="eq", value=node.value)))
        if isinstance(node, Compare) and node.value is None:  # eq null: absent
            return _not(self.where(Present(path=node.path)))
        return self._test(node, resolved)

    # --- top-level attributes ------------------------------------------------

    def _test(self, node: Compare | Present, resolved: Resolved) -> sa.ColumnElement[bool]:
        promoted = self._promoted(node, resolved)
        if promoted is not None:
            return promoted
        side = self._side_table(node, resolved)
        if side is not None:
            return side
        owned = self._owners(node, resolved)
        if owned is not None:
            return owned
        attribute = resolved.attribute
        keys = (resolved.urn, attribute.name) if resolved.urn else (attribute.name,)
        doc = resources.c.doc
        if attribute.multi_valued and isinstance(node, Present) and resolved.sub is None:
            return _bool(self.json.present(doc, keys))  # a non-empty array
        if attribute.multi_valued:
            table = self.json.elements(doc, keys)
            if resolved.sub is None:
                element_test = self._element_scalar(node, table, attribute)
            else:
                element_test = self._scalar(node, table.c.value, (resolved.sub.name,), resolved.sub)
            return sa.exists(sa.select(sa.literal(1)).select_from(table).where(element_test))
        if resolved.sub is not None:
            keys = (*keys, resolved.sub.name)
        return self._scalar(node, doc, keys, resolved.target)

    def _value_path(self, node: ValuePath) -> sa.ColumnElement[bool]:
        resolved = resolve_attr(node.path, self.resource_type)
        if self._is_side_table(resolved):
            return self._members_value_path(node, resolved)
        owner_link = self._owner_link(resolved)
        if owner_link is not None:
            return self._rows_value_path(node.filter, owner_link, self._owner_column)
        keys = (
            (resolved.urn, resolved.attribute.name) if resolved.urn else (resolved.attribute.name,)
        )
        table = self.json.elements(resources.c.doc, keys)
        inner = self._element_where(node.filter, table.c.value, resolved.attribute)
        return sa.exists(sa.select(sa.literal(1)).select_from(table).where(inner))

    def _element_where(
        self, node: Filter, element: Any, parent: Attribute
    ) -> sa.ColumnElement[bool]:
        if isinstance(node, And):
            return sa.and_(
                self._element_where(node.left, element, parent),
                self._element_where(node.right, element, parent),
            )
        if isinstance(node, Or):
            return sa.or_(
                self._element_where(node.left, element, parent),
                self._element_where(node.right, element, parent),
            )
        if isinstance(node, Not):
            return _not(self._element_where(node.inner, element, parent))
        assert isinstance(node, Compare | Present)
        sub = parent.sub(node.path.attr)
        if sub is None:
            raise InvalidFilter(f"{parent.name!r} has no sub-attribute {node.path.attr!r}")
        if isinstance(node, Compare) and node.op == "ne":
            eq = Compare(path=node.path, op="eq", value=node.value)
            return _not(self._element_where(eq, element, parent))
        if isinstance(node, Compare) and node.value is None:
            return _not(self._element_where(Present(path=node.path), element, parent))
        return self._scalar(node, element, (sub.name,), sub)

    # --- one JSON value ------------------------------------------------------

    def _element_scalar(
        self, node: Compare | Present, table: Any, attribute: Attribute
    ) -> sa.ColumnElement[bool]:
        """One element of a multi-valued simple (string) attribute."""
        text = self.json.element_text(table)
        if isinstance(node, Present):
            return _bool(sa.and_(text.is_not(None), text != ""))
        if attribute.type not in ("string", "reference"):
            raise InvalidFilter(f"cannot filter the multi-valued {attribute.type} {attribute.name}")
        return self._string_test(node.op, text, str(node.value), attribute.case_exact)

    def _string_test(self, op: str, text: Any, value: str, case_exact: bool) -> Any:
        if not case_exact:
            text, value = self.json.lower(text), fold(value)
        if op in ("co", "sw", "ew"):
            return _bool(text.like(_like(value, op), escape=_LIKE_ESCAPE))
        return _bool(_ordered_op(op, self.json.ordered(text), value))

    def _scalar(
        self, node: Compare | Present, doc: Any, keys: tuple[str, ...], attribute: Attribute
    ) -> sa.ColumnElement[bool]:
        """Test the JSON value at ``keys`` of ``doc``."""
        json = self.json
        if isinstance(node, Present):
            return _bool(json.present(doc, keys))
        op, value, kind = node.op, node.value, attribute.type
        if kind == "boolean":
            test = json.is_true(doc, keys) if value else json.is_false(doc, keys)
            return _bool(test)
        if kind in ("integer", "decimal"):
            return _bool(_ordered_op(op, json.number(doc, keys), value))
        text = json.text(doc, keys)
        assert isinstance(value, str)
        if kind == "dateTime":
            moment = parse_datetime(value)
            assert moment is not None
            # Stored dateTimes are normalised (UTC, milliseconds, Z): text order is time order.
            return _bool(_ordered_op(op, json.ordered(text), format_datetime(moment)))
        return self._string_test(op, text, value, attribute.case_exact)

    # --- promoted columns and side tables -------------------------------------

    def _promoted(
        self, node: Compare | Present, resolved: Resolved
    ) -> sa.ColumnElement[bool] | None:
        name = resolved.attribute.name
        sub = resolved.sub.name if resolved.sub else None
        if resolved.urn == GOVERNANCE and name in ("lifecycleState", "complianceIssues"):
            return self._effective(node, name)
        if resolved.urn == GOVERNANCE and name == "expiresAt":
            if isinstance(node, Present):
                return resources.c.expires_at.is_not(None)
            moment = parse_datetime(str(node.value))
            return _bool(_ordered_op(node.op, resources.c.expires_at, moment))
        if resolved.urn is not None:
            return None
        if name == "id":
            return self._column(node, resources.c.id, case_exact=True)
        if name == "externalId":
            return self._column(node, resources.c.external_id, case_exact=True)
        if name == UNIQUE_NAME.get(self.resource_type.name) and sub is None:
            return self._column(node, resources.c.name_norm, case_exact=True, prefold=True)
        if name == "active" and isinstance(node, Compare) and resolved.attribute.type == "boolean":
            live = resources.c.active.is_(True)
            if self.now is not None:
                # An identity past expiresAt reads as inactive before any sweep runs.
                unexpired = sa.or_(
                    resources.c.expires_at.is_(None), resources.c.expires_at > self.now
                )
                live = sa.and_(live, unexpired)
            if node.value:
                return live
            return sa.and_(resources.c.active.is_not(None), sa.not_(live))
        if name == "active" and isinstance(node, Present):
            return resources.c.active.is_not(None)
        if name == "meta":
            return self._meta(node, sub)
        return None

    def _column(
        self, node: Compare | Present, column: Any, *, case_exact: bool, prefold: bool = False
    ) -> sa.ColumnElement[bool]:
        if isinstance(node, Present):
            return sa.and_(column.is_not(None), column != "")
        value = node.value
        assert isinstance(value, str)
        if prefold:
            value = fold(value)
        elif not case_exact:
            column, value = self.json.lower(column), fold(value)
        if node.op in ("co", "sw", "ew"):
            return _bool(column.like(_like(value, node.op), escape=_LIKE_ESCAPE))
        # Equality stays in the column's own collation, which its index is built in.
        column = column if node.op == "eq" else self.json.ordered(column)
        return _bool(_ordered_op(node.op, column, value))

    def _meta(self, node: Compare | Present, sub: str | None) -> sa.ColumnElement[bool]:
        columns = {"created": resources.c.created, "lastModified": resources.c.last_modified}
        if sub in columns:
            if isinstance(node, Present):
                return sa.true()
            moment = parse_datetime(str(node.value))
            return _bool(_ordered_op(node.op, columns[sub], moment))
        if sub == "resourceType":
            if isinstance(node, Present):
                return sa.true()
            return self._column(node, resources.c.resource_type, case_exact=True)
        raise InvalidFilter(
            f"meta.{sub} cannot be filtered on" if sub else "compare a meta sub-attribute"
        )

    def _effective(self, node: Compare | Present, name: str) -> sa.ColumnElement[bool]:
        """lifecycleState and complianceIssues as read, not as stored (DESIGN.md).

        An identity past expiresAt is suspended and ``expired`` before any sweep;
        ``no_active_owner`` means no owner row points at a live, active User or Group.
        """
        state = resources.c.lifecycle_state
        expired = sa.and_(
            resources.c.expires_at.is_not(None), resources.c.expires_at <= self._now()
        )
        if isinstance(node, Present):
            if name == "lifecycleState":
                return state.is_not(None)
            return sa.and_(state.is_not(None), sa.or_(expired, self._orphaned()))
        if node.op != "eq" or not isinstance(node.value, str):
            raise InvalidFilter(f"{name} supports eq, ne and pr")
        value = fold(node.value)
        if name == "complianceIssues":
            if value == "expired":
                return sa.and_(state.is_not(None), expired)
            if value == "no_active_owner":
                return sa.and_(state.is_not(None), self._orphaned())
            return sa.false()
        if value == "suspended":
            return sa.or_(state == "suspended", sa.and_(state == "active", expired))
        if value == "active":
            return sa.and_(state == "active", sa.not_(expired))
        return state == value

    def _now(self) -> Any:
        return self.now if self.now is not None else sa.func.current_timestamp()

    def _orphaned(self) -> sa.ColumnElement[bool]:
        owner = resources.alias("live_owner")
        active_owner = (
            sa.select(sa.literal(1))
            .select_from(nhi_owners.join(owner, holder_of(owner)))
            .where(
                answering_for(resources),
                nhi_owners.c.relation == "owner",
                owner.c.deleted_at.is_(None),
                sa.or_(owner.c.active.is_(None), owner.c.active.is_(True)),
            )
        )
        return sa.not_(sa.exists(active_owner))

    def _owner_link(self, resolved: Resolved) -> sa.ColumnElement[bool] | None:
        """``owners`` and Governance ``sponsors`` live in nhi_owners (indexed by owner)."""
        if resolved.attribute.name == "owners" and resolved.urn in (None, OWNERS_URN):
            relation = "owner"
        elif resolved.urn == GOVERNANCE and resolved.attribute.name == "sponsors":
            relation = "sponsor"
        else:
            return None
        return sa.and_(answering_for(resources), nhi_owners.c.relation == relation)

    def _owner_column(self, node: Compare | Present, sub: str) -> sa.ColumnElement[bool]:
        # An owner's value is an id (caseExact); its type is "User" or "Group" in any case.
        if sub == "value":
            return self._column(node, nhi_owners.c.owner_id, case_exact=True)
        if sub == "type":
            return self._column(node, nhi_owners.c.owner_type, case_exact=False)
        raise InvalidFilter("owners and sponsors can be filtered by value or type only")

    def _owners(self, node: Compare | Present, resolved: Resolved) -> sa.ColumnElement[bool] | None:
        link = self._owner_link(resolved)
        if link is None:
            return None
        sub = resolved.sub.name if resolved.sub else "value"
        query = sa.select(sa.literal(1)).where(link)
        if isinstance(node, Compare):
            query = query.where(self._owner_column(node, sub))
        elif sub not in ("value", "type"):
            raise InvalidFilter("owners and sponsors can be filtered by value or type only")
        return sa.exists(query)

    def _is_side_table(self, resolved: Resolved) -> bool:
        return resolved.urn is None and (
            (self.resource_type.name == "Group" and resolved.attribute.name == "members")
            or (self.resource_type.name != "Group" and resolved.attribute.name == "groups")
        )

    def _side_table(
        self, node: Compare | Present, resolved: Resolved
    ) -> sa.ColumnElement[bool] | None:
        if not self._is_side_table(resolved):
            return None
        sub = resolved.sub.name if resolved.sub else "value"
        if resolved.attribute.name == "groups":
            if sub != "value":
                raise InvalidFilter("groups can be filtered by value only")
            return self._in_group(node)
        if sub not in ("value", "type"):
            raise InvalidFilter("members can be filtered by value or type only")
        query = sa.select(sa.literal(1)).where(member_rows_of(resources))
        if isinstance(node, Compare):
            query = query.where(self._member_column(node, sub))
        return sa.exists(query)

    def _member_column(self, node: Compare | Present, sub: str) -> sa.ColumnElement[bool]:
        # A member's value is an id (caseExact); its type is "User" or "Group" in any case.
        if sub == "value":
            return self._column(node, group_members.c.member_id, case_exact=True)
        if sub == "type":
            return self._column(node, group_members.c.member_type, case_exact=False)
        raise InvalidFilter("members[…] can test value and type only")

    def _next_cte(self) -> int:
        # CTEs are hoisted to the top of the statement: each needs its own name.
        self._ctes += 1
        return self._ctes

    def _in_group(self, node: Compare | Present) -> sa.ColumnElement[bool]:
        """``groups.value``: direct or indirect membership (RFC 7643 §4.1.2), as ``groups`` shows.

        ``eq`` walks down from the named group (one recursive query, by the
        primary key); ``pr`` is any membership. Other operators compare group
        ids as text, which means nothing, and are refused.
        """
        gm = group_members
        if isinstance(node, Present):
            return in_any_group()
        if node.op != "eq":
            raise InvalidFilter("groups.value supports eq, ne and pr")
        down = (
            sa.select(gm.c.member_id.label("id"), sa.literal(1).label("depth"))
            .where(gm.c.tenant_id == self.tenant_id, gm.c.group_id == node.value)
            .cte(f"down{self._next_cte()}", recursive=True)
        )
        down = down.union(
            sa.select(gm.c.member_id, down.c.depth + 1).where(
                gm.c.tenant_id == self.tenant_id,
                gm.c.group_id == down.c.id,
                down.c.depth < MAX_NESTING,
            )
        )
        return resources.c.id.in_(sa.select(down.c.id))

    def _members_value_path(self, node: ValuePath, resolved: Resolved) -> sa.ColumnElement[bool]:
        if resolved.attribute.name == "groups":
            return self._groups_value_path(node.filter)
        return self._rows_value_path(node.filter, member_rows_of(resources), self._member_column)

    def _rows_value_path(
        self,
        inner: Filter,
        link: sa.ColumnElement[bool],
        column: Callable[[Compare | Present, str], sa.ColumnElement[bool]],
    ) -> sa.ColumnElement[bool]:
        """``members[…]`` / ``owners[…]``: one side-table row satisfies the whole inner filter."""

        def where(node: Filter) -> sa.ColumnElement[bool]:
            if isinstance(node, And):
                return sa.and_(where(node.left), where(node.right))
            if isinstance(node, Or):
                return sa.or_(where(node.left), where(node.right))
            if isinstance(node, Not):
                return _not(where(node.inner))
            assert isinstance(node, Compare | Present)
            if isinstance(node, Compare) and node.op == "ne":
                return _not(where(Compare(path=node.path, op="eq", value=node.value)))
            if isinstance(node, Compare) and node.value is None:  # eq null: never
                return sa.false()
            if isinstance(node, Present):
                # A row's value and type are never empty: building the test only
                # checks that the sub-attribute is one the table has.
                column(Compare(path=node.path, op="eq", value=""), node.path.attr)
                return sa.true()
            return column(node, node.path.attr)

        return sa.exists(sa.select(sa.literal(1)).where(link, where(inner)))

    def _groups_value_path(self, inner: Filter) -> sa.ColumnElement[bool]:
        """``groups[value eq "a" or value eq "b"]``: only what one value can mean at once."""
        if isinstance(inner, Or):
            return sa.or_(self._groups_value_path(inner.left), self._groups_value_path(inner.right))
        if not isinstance(inner, Compare | Present) or inner.path.attr != "value":
            raise InvalidFilter('groups[…] takes value comparisons joined by "or"')
        if isinstance(inner, Compare) and inner.value is None:
            has_any = self._in_group(Present(path=inner.path))
            return has_any if inner.op == "ne" else sa.false()
        if isinstance(inner, Compare) and inner.op == "ne":
            # Some group other than this one: any membership, unless it is the only one.
            raise InvalidFilter('groups[…] takes value comparisons joined by "or"')
        return self._in_group(inner)


def _ordered_op(op: str, left: Any, right: Any) -> Any:
    if op == "eq":
        return left == right
    if op == "gt":
        return left > right
    if op == "ge":
        return left >= right
    if op == "lt":
        return left < right
    if op == "le":
        return left <= right
    raise InvalidFilter(f"'{op}' does not apply here")
