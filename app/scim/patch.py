"""SCIM PATCH (RFC 7644 §3.5.2): reading a PatchOp message and applying it to a document.

Pure. ``read_patch`` checks the message; ``apply_patch`` applies its
operations in order to a canonical document (``app.scim.codec``) and returns
the new document and the attribute paths whose values changed. It is all or
nothing: a ``ScimError`` from any operation leaves nothing changed.

Values are never changed in place: each step builds new containers for what it
changes and shares the rest. That keeps the input intact (so atomicity is
free) and lets ``changed`` compare each attribute before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from app.scim.codec import UNSET, check_value
from app.scim.errors import (
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from app.scim.filter import (
    PatchPath,
    ValuePath,
    parse_path,
    path_text,
    to_text,
)
from app.scim.patch_values import (
    Target,
    add_values,
    check_immutable,
    diff,
    identity,
    one_primary,
    remove_matches,
    replace_matches,
    set_in_matches,
    tidy,
)
from app.scim.resolve import resolve_attr, resolve_filter, resolve_sub
from app.scim.schema import Attribute, ResourceType, Schema
from app.scim.validate import check_required

OPS = ("add", "remove", "replace")
_MISSING: Any = object()


class PatchOperation(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``Operations`` (RFC 7644 §3.5.2)."""

    op: str  # "add" | "remove" | "replace"
    path: PatchPath | None
    value: Any  # as sent; None when absent
    index: int  # position in Operations, for error messages


class PatchResult(msgspec.Struct, frozen=True, kw_only=True):
    doc: dict[str, Any]
    changed: tuple[str, ...]  # canonical paths, in first-change order


# --- reading ------------------------------------------------------------------


def read_patch(body: dict[str, Any]) -> list[PatchOperation]:
    """Read an RFC 7644 §3.5.2 PatchOp message into its operations.

    A missing or wrong ``schemas`` is tolerated (clients get it wrong and it
    carries no information); keys and ``op`` values are case-insensitive
    because providers send ``"Operations": [{"op": "Replace"}]``.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("a PatchOp body must be a JSON object")
    operations = _get(body, "Operations")
    if operations is _MISSING:
        raise InvalidSyntax("a PatchOp body needs 'Operations', a list of operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("'Operations' must be a non-empty list of operations")
    return [_read_operation(raw, index) for index, raw in enumerate(operations)]


def _get(obj: dict[str, Any], key: str) -> Any:
    lowered = key.lower()
    for name, value in obj.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return _MISSING


def _read_operation(raw: Any, index: int) -> PatchOperation:
    where = f"Operations[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"{where} must be a JSON object")
    op = _get(raw, "op")
    if op is _MISSING:
        raise InvalidSyntax(f"{where} has no 'op'")
    if not isinstance(op, str) or op.lower() not in OPS:
        raise InvalidValue(f"{where}: op {op!r} is not one of add, remove, replace")
    op = op.lower()
    path = _read_path(_get(raw, "path"), where)
    value = _get(raw, "value")
    if op == "remove" and path is None:
        raise NoTarget(f"{where}: remove needs a path")
    if op != "remove" and value is _MISSING:
        raise InvalidValue(f"{where}: {op} needs a value")
    return PatchOperation(op=op, path=path, value=None if value is _MISSING else value, index=index)


def _read_path(raw: Any, where: str) -> PatchPath | None:
    # An empty path is what some clients send for "no path".
    if raw is _MISSING or raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise InvalidPath(f"{where}: path must be a string")
    try:
        return parse_path(raw)
    except InvalidPath as exc:
        raise InvalidPath(f"{where}: {exc.detail}") from None


# --- applying -----------------------------------------------------------------


def apply_patch(
    doc: dict[str, Any], operations: Sequence[PatchOperation], resource_type: ResourceType
) -> PatchResult:
    """Apply RFC 7644 §3.5.2 operations in order, all or nothing.

    §3.5.2: "each operation ... SHALL be applied sequentially" and on any error
    "the original resource MUST be restored"; ``doc`` is never modified. The
    result must still satisfy the schema's ``required`` attributes (§3.5.2
    "the resulting resource MUST be valid").
    """
    state = _State(doc)
    for operation in operations:
        try:
            _apply(state, operation, resource_type)
        except ScimError as exc:
            raise type(exc)(
                f"Operations[{operation.index}] ({operation.op}): {exc.detail}"
            ) from None
    check_required(state.doc, resource_type)
    # JSON round trip: a deep copy at C speed, so the result shares nothing with the input.
    new_doc = msgspec.json.decode(msgspec.json.encode(state.doc))
    return PatchResult(doc=new_doc, changed=state.changed())


class _State:
    """The document being patched, and which attribute paths changed and when."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.original = doc
        self.doc = dict(doc)
        self.order: dict[str, None] = {}  # paths in first-change order
        self.touched: dict[tuple[str | None, str], Attribute] = {}

    def get(self, urn: str | None, name: str) -> Any:
        scope = self.doc if urn is None else self.doc.get(urn) or {}
        return scope.get(name)

    def put(self, target: Target, new: Any) -> None:
        attribute, urn, name = target.attribute, target.urn, target.attribute.name
        old = self.get(urn, name)
        new = tidy(attribute, new)
        if new == old:
            return
        check_immutable(attribute, old, new, target.text)
        if attribute.multi_valued and attribute.type == "complex":
            new = one_primary(old, new, target.text)
        scope = self.doc if urn is None else dict(self.doc.get(urn) or {})
        if new is None:
            scope.pop(name, None)
        else:
            scope[name] = new
        if urn is not None:
            if scope:
                self.doc[urn] = scope
            else:
                self.doc.pop(urn, None)
        self.touched[(urn, name)] = attribute
        for path in diff(urn, attribute, old, new):
            self.order.setdefault(path)

    def changed(self) -> tuple[str, ...]:
        """Paths that differ from the original, in the order they first changed."""
        final: set[str] = set()
        for (urn, name), attribute in self.touched.items():
            scope = self.original if urn is None else self.original.get(urn) or {}
            final.update(diff(urn, attribute, scope.get(name), self.get(urn, name)))
        return tuple(path for path in self.order if path in final)


def _apply(state: _State, operation: PatchOperation, resource_type: ResourceType) -> None:
    extension = _whole_extension(operation.path, resource_type)
    if extension is not None:
        # The path names a whole extension (``urn:…:enterprise:2.0:User``).
        if operation.op == "remove":
            for attribute in extension.attributes:
                if state.get(extension.id, attribute.name) is not None:
                    path = _parse_key(f"{extension.id}:{attribute.name}")
                    _apply_at(state, "remove", path, None, resource_type, False)
            return
        operation = msgspec.structs.replace(
            operation, path=None, value={extension.id: operation.value}
        )
    if operation.path is not None:
        _apply_at(state, operation.op, operation.path, operation.value, resource_type, True)
        return
    # RFC 7644 §3.5.2.1/§3.5.2.3: without a path the value is an object of attributes.
    if not isinstance(operation.value, dict):
        raise InvalidValue(f"{operation.op} without a path needs a JSON object value")
    for path, value in _pathless(operation.value, resource_type):
        _apply_at(state, operation.op, path, value, resource_type, False)


def _whole_extension(path: PatchPath | None, resource_type: ResourceType) -> Schema | None:
    if (
        path is None
        or path.filter is not None
        or path.path.sub is not None
        or path.path.urn is None
    ):
        return None
    extension = resource_type.extension(f"{path.path.urn}:{path.path.attr}")
    return extension.schema if extension is not None else None


def _known(path: PatchPath, resource_type: ResourceType) -> bool:
    try:
        resolve_attr(path.path, resource_type, error=InvalidPath)
    except InvalidPath:
        return False
    return True


def _pathless(
    value: dict[str, Any], resource_type: ResourceType
) -> Iterator[tuple[PatchPath, Any]]:
    """Each key of a pathless value as a path: ``title``, ``name.givenName``,
    ``urn:…:User:manager``, or a schema URN whose value holds that schema's attributes."""
    for key, item in value.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        extension = resource_type.extension(key)
        if extension is not None or key.lower() == resource_type.schema.id.lower():
            urn = extension.schema.id if extension else resource_type.schema.id
            if item is None:
                continue
            if not isinstance(item, dict):
                raise InvalidValue(f"'{urn}' must be a JSON object")
            for name, sub_value in item.items():
                path = _parse_key(f"{urn}:{name}")
                if _known(path, resource_type):
                    yield path, sub_value
        else:
            path = _parse_key(key)
            # Unknown keys in a pathless value are ignored, as on create (RFC 7644 §3.3).
            if _known(path, resource_type):
                yield path, item


def _parse_key(key: str) -> PatchPath:
    try:
        return parse_path(key)
    except InvalidPath as exc:
        raise InvalidPath(f"value key {key!r}: {exc.detail}") from None


def _apply_at(
    state: _State,
    op: str,
    path: PatchPath,
    value: Any,
    resource_type: ResourceType,
    explicit: bool,
) -> None:
    target = _resolve(path, resource_type)
    for definition in (target.attribute, target.sub):
        if definition is None:
            continue
        if definition.mutability == "readOnly":
            # RFC 7644 §3.5.2: naming a readOnly attribute is an error; in a
            # pathless value it is ignored, as on create (§3.3).
            if explicit:
                raise Mutability(f"'{target.text}' is readOnly")
            return
        if definition.mutability == "writeOnly":
            return  # accepted and dropped, as the codec does: never stored
    old = state.get(target.urn, target.attribute.name)
    state.put(target, _OPERATIONS[op](target, old, value))


def _resolve(path: PatchPath, resource_type: ResourceType) -> Target:
    resolved = resolve_attr(path.path, resource_type, error=InvalidPath)
    attribute = resolved.attribute
    text = path_text(resolved.path)
    if path.filter is None:
        if resolved.sub is not None and attribute.multi_valued:
            raise InvalidPath(
                f"'{text}' would change every value of '{attribute.name}'; "
                f'select values with a filter, e.g. {attribute.name}[type eq "work"]'
                f".{resolved.sub.name}"
            )
        return Target(
            urn=resolved.urn, attribute=attribute, sub=resolved.sub, filter=None, text=text
        )
    if attribute.type != "complex" or not attribute.multi_valued:
        raise InvalidPath(f"'{text}[…]' needs a multi-valued complex attribute")
    bound = resolve_filter(ValuePath(path=resolved.path, filter=path.filter), resource_type)
    assert isinstance(bound, ValuePath)
    sub = resolve_sub(attribute, path.sub, InvalidPath) if path.sub else None
    text = f"{text}[{to_text(bound.filter)}]" + (f".{sub.name}" if sub else "")
    return Target(urn=resolved.urn, attribute=attribute, sub=sub, filter=bound.filter, text=text)


# --- the three operations: old value → new value, never mutating old ----------


def _add(target: Target, old: Any, value: Any) -> Any:
    """RFC 7644 §3.5.2.1."""
    attribute = target.attribute
    if target.filter is not None:
        return set_in_matches(target, old, value, replace=False)
    if target.sub is not None:
        return _set_sub(target, old, value, replace=False)
    checked = check_value(attribute, _lenient(attribute, value), target.text)
    if checked is UNSET:
        return old  # adding nothing
    if attribute.multi_valued:
        return add_values(attribute, old or [], checked)
    if attribute.type == "complex":
        return {**(old or {}), **checked}
    return checked


def _replace(target: Target, old: Any, value: Any) -> Any:
    """RFC 7644 §3.5.2.3."""
    attribute = target.attribute
    if target.filter is not None:
        if target.sub is not None:
            return set_in_matches(target, old, value, replace=True)
        return replace_matches(target, old, value)
    if target.sub is not None:
        return _set_sub(target, old, value, replace=True)
    checked = check_value(attribute, _lenient(attribute, value), target.text)
    if attribute.type != "complex" or attribute.multi_valued or value is None:
        return None if checked is UNSET else checked
    # "Sub-attributes that are not specified in the value are left unchanged";
    # one sent as null is cleared.
    merged = {**(old or {}), **({} if checked is UNSET else checked)}
    if isinstance(value, dict):
        for key, raw in value.items():
            sub = attribute.sub(key) if isinstance(key, str) else None
            if sub is not None and (raw is None or raw == []):
                merged.pop(sub.name, None)
    return merged


def _remove(target: Target, old: Any, value: Any) -> Any:
    """RFC 7644 §3.5.2.2; a ``value`` on a multi-valued path selects what to remove
    (not in the RFC, but Okta and Entra send ``{"path": "members", "value": [...]}``)."""
    attribute = target.attribute
    if target.filter is not None:
        return remove_matches(target, old)
    if target.sub is not None:
        return {k: v for k, v in (old or {}).items() if k != target.sub.name}
    if attribute.multi_valued and value is not None:
        gone = check_value(attribute, value, target.text)
        if gone is UNSET:
            return old
        keys = {identity(attribute, item) for item in gone}
        return [item for item in old or () if identity(attribute, item) not in keys]
    return None


_OPERATIONS: dict[str, Callable[[Target, Any, Any], Any]] = {
    "add": _add,
    "replace": _replace,
    "remove": _remove,
}


def _lenient(attribute: Attribute, value: Any) -> Any:
    """Entra ID sends a single-valued complex attribute (``manager``) as its bare
    ``value`` or as a one-element list; both mean ``{"value": …}``."""
    if attribute.type != "complex" or attribute.multi_valued or attribute.sub("value") is None:
        return value
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    if isinstance(value, str):
        return {"value": value}
    return value


def _set_sub(target: Target, old: Any, value: Any, *, replace: bool) -> Any:
    """``attr.sub`` of a single-valued complex attribute."""
    assert target.sub is not None
    checked = check_value(target.sub, value, target.text)
    new = dict(old or {})
    if checked is not UNSET:
        new[target.sub.name] = checked
    elif replace:
        new.pop(target.sub.name, None)
    return new
