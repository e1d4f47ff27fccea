"""/Bulk (RFC 7644 §3.7): many operations in one request, each an ordinary Mutation.

Each operation runs in its own transaction through the same pipeline as a
single request, so validation and (later) policy apply to it unchanged; the
response reports each one's status. ``bulkId:…`` references in paths and
data resolve to the ids created earlier in the request; an operation whose
reference is created by a later one waits for it (forward references), and
operations that wait on each other in a cycle fail with 409.
"""

from __future__ import annotations

from typing import Any

import msgspec

from app.domain.actor import Actor
from app.provisioning.commands import Mutation, MutationKind
from app.provisioning.mutation import Provisioning
from app.scim.errors import (
    Conflict,
    InvalidSyntax,
    InvalidValue,
    PayloadTooLarge,
    ScimError,
)
from app.scim.schema import Registry, ResourceType

BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_PREFIX = "bulkid:"
_KINDS = {
    "POST": MutationKind.CREATE,
    "PUT": MutationKind.REPLACE,
    "PATCH": MutationKind.PATCH,
    "DELETE": MutationKind.DELETE,
}


class Outcome(msgspec.Struct, kw_only=True):
    """One operation's result, as the BulkResponse reports it."""

    index: int
    method: str
    bulk_id: str | None = None
    status: int
    resource_type: ResourceType | None = None
    resource_id: str | None = None
    version: str | None = None
    error: ScimError | None = None


class _Operation(msgspec.Struct, kw_only=True):
    index: int
    method: str
    path: str
    bulk_id: str | None
    data: Any
    version: str | None


class _Waiting(Exception):
    """The operation names a bulkId that a later POST will define."""


class Bulk:
    def __init__(self, provisioning: Provisioning, registry: Registry, max_operations: int) -> None:
        self._provisioning = provisioning
        self._registry = registry
        self._max_operations = max_operations

    async def run(self, actor: Actor, body: dict[str, Any]) -> list[Outcome]:
        """Run a BulkRequest; the outcomes in the order the operations were given."""
        operations, fail_on_errors = self._read(body)
        # bulkId → True while its POST may still succeed, False once it failed.
        defined = {op.bulk_id: True for op in operations if op.method == "POST" and op.bulk_id}
        created: dict[str, str] = {}
        outcomes: dict[int, Outcome] = {}
        errors = 0
        pending = list(operations)
        while pending:
            waiting: list[_Operation] = []
            for operation in pending:
                if fail_on_errors is not None and errors >= fail_on_errors:
                    return [outcomes[i] for i in sorted(outcomes)]
                try:
                    outcome = await self._one(actor, operation, created, defined)
                except _Waiting:
                    waiting.append(operation)
                    continue
                outcomes[operation.index] = outcome
                if outcome.error is not None:
                    errors += 1
                    if operation.method == "POST" and operation.bulk_id:
                        defined[operation.bulk_id] = False
                elif operation.bulk_id and outcome.resource_id and operation.method == "POST":
                    created[operation.bulk_id] = outcome.resource_id
            if len(waiting) == len(pending):
                # Nothing moved: every one left waits on another that waits too.
                for operation in waiting:
                    outcomes[operation.index] = _failed(
                        operation,
                        Conflict(f"operation {operation.index}: circular bulkId reference"),
                    )
                break
            pending = waiting
        return [outcomes[i] for i in sorted(outcomes)]

    def _read(self, body: dict[str, Any]) -> tuple[list[_Operation], int | None]:
        fields = {k.lower(): v for k, v in body.items() if isinstance(k, str)}
        raw_operations = fields.get("operations")
        if not isinstance(raw_operations, list):
            raise InvalidSyntax("a BulkRequest needs an 'Operations' list")
        if len(raw_operations) > self._max_operations:
            raise PayloadTooLarge(
                f"{len(raw_operations)} operations; at most {self._max_operations} per request"
            )
        fail_on_errors = fields.get("failonerrors")
        if fail_on_errors is not None and (
            not isinstance(fail_on_errors, int)
            or isinstance(fail_on_errors, bool)
            or fail_on_errors < 1
        ):
            raise InvalidValue("failOnErrors must be a positive integer")
        operations = []
        for index, raw in enumerate(raw_operations):
            item = {k.lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
            method = item.get("method")
            operations.append(
                _Operation(
                    index=index,
                    method=method.upper() if isinstance(method, str) else "",
                    path=item.get("path") if isinstance(item.get("path"), str) else "",
                    bulk_id=item.get("bulkid") if isinstance(item.get("bulkid"), str) else None,
                    data=item.get("data"),
                    version=item.get("version") if isinstance(item.get("version"), str) else None,
                )
            )
        return operations, fail_on_errors

    async def _one(
        self, actor: Actor, operation: _Operation, created: dict[str, str], defined: dict[str, bool]
    ) -> Outcome:
        try:
            kind = _KINDS.get(operation.method)
            if kind is None:
                raise InvalidValue(
                    f"operation {operation.index}: method must be POST, PUT, PATCH or DELETE"
                )
            resource_type, resource_id = self._target(operation, kind, created, defined)
            data = _substitute(operation.data, created, defined, operation.index)
            if kind is not MutationKind.DELETE and not isinstance(data, dict):
                raise InvalidValue(f"operation {operation.index}: 'data' must be an object")
            if kind is MutationKind.CREATE and not operation.bulk_id:
                raise InvalidValue(f"operation {operation.index}: POST needs a bulkId")
            result = await self._provisioning.run(
                Mutation(
                    kind=kind,
                    actor=actor,
                    resource_type=resource_type.name,
                    resource_id=resource_id,
                    body=data if isinstance(data, dict) else None,
                    if_match=operation.version,
                    with_members=False,
                    with_groups=False,
                )
            )
        except _Waiting:
            raise
        except ScimError as error:
            return _failed(operation, error)
        status = {MutationKind.CREATE: 201, MutationKind.DELETE: 204}.get(kind, 200)
        return Outcome(
            index=operation.index,
            method=operation.method,
            bulk_id=operation.bulk_id,
            status=status,
            resource_type=resource_type,
            resource_id=result.id if result else resource_id,
            version=result.etag if result else None,
        )

    def _target(
        self,
        operation: _Operation,
        kind: MutationKind,
        created: dict[str, str],
        defined: dict[str, bool],
    ) -> tuple[ResourceType, str | None]:
        parts = [p for p in operation.path.split("/") if p]
        resource_type = self._registry.by_endpoint("/" + parts[0]) if parts else None
        expected = 1 if kind is MutationKind.CREATE else 2
        if resource_type is None or len(parts) != expected:
            shape = "/Users" if kind is MutationKind.CREATE else "/Users/{id}"
            raise InvalidValue(
                f"operation {operation.index}: path {operation.path!r} is not like {shape}"
            )
        if expected == 1:
            return resource_type, None
        return resource_type, _reference(parts[1], created, defined, operation.index)


def _reference(text: str, created: dict[str, str], defined: dict[str, bool], index: int) -> str:
    """``bulkId:x`` → the id created for x; other text unchanged."""
    if not text.lower().startswith(_PREFIX):
        return text
    bulk_id = text[len(_PREFIX) :]
    if bulk_id in created:
        return created[bulk_id]
    if defined.get(bulk_id) is True:
        raise _Waiting(bulk_id)
    if bulk_id in defined:
        raise InvalidValue(f"operation {index}: the POST with bulkId {bulk_id!r} failed")
    raise InvalidValue(f"operation {index}: no POST in this request has bulkId {bulk_id!r}")


def _substitute(value: Any, created: dict[str, str], defined: dict[str, bool], index: int) -> Any:
    if isinstance(value, str):
        return _reference(value, created, defined, index)
    if isinstance(value, list):
        return [_substitute(v, created, defined, index) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, created, defined, index) for k, v in value.items()}
    return value


def _failed(operation: _Operation, error: ScimError) -> Outcome:
    return Outcome(
        index=operation.index,
        method=operation.method or "?",
        bulk_id=operation.bulk_id,
        status=error.status,
        error=error,
    )
