"""The planners of changes and the executor, without a database.

Planners are data in, data out: a resource before and a context, a ``Change``
after. The executor is exercised at its ports (the judge that decides, the
unit of work it writes through) with small in-memory stand-ins, to show the
one decide → write → audit → notify sequence: a deny raises and writes
nothing, changes that stand on their own leave only the denied ones out, and
a dry run records decisions while writing no audit event and no notification.
The same paths run for real, on SQLite and PostgreSQL, in tests/api.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from app.config import data_dir
from app.domain.actor import Actor, Role
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import Tenant
from app.policy.engine import Decision
from app.provisioning import nhi
from app.provisioning.compute import changed_paths, draft_create, draft_replace
from app.provisioning.executor import Change, Context, Denied, Executor, Write
from app.provisioning.judge import Question
from app.provisioning.orphans import _flag, _hand_over
from app.provisioning.retirement import _parents_first, _restored, _retired
from app.scim.errors import InvalidValue
from app.scim.schema import read_registry

NOW = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=5)
GOV = nhi.GOVERNANCE
REGISTRY = read_registry(data_dir("schemas"))
TENANT = Tenant(id="t1", name="acme", created=NOW)
ADMIN = Actor(token_id="tok", name="admin", roles=frozenset({Role.ADMIN}), tenant_id="t1")


def resource(rid: str = "a1", resource_type: str = "Agent", **doc: Any) -> Resource:
    return Resource(
        tenant_id="t1", id=rid, resource_type=resource_type, external_id=None,
        doc=doc, version=3, created=NOW, last_modified=NOW,
    )  # fmt: skip


def agent(rid: str = "a1", parent: str | None = None, **governance: Any) -> Resource:
    doc: dict[str, Any] = {"name": rid, GOV: {"purpose": "ci", **governance}}
    if parent is not None:
        doc["parent"] = {"value": parent}
    owner = OwnerRef(value="u1", type="User", display="Olivia")
    sponsor = OwnerRef(value="u2", type="User", relation="sponsor", display="Sam")
    return msgspec.structs.replace(resource(rid, **doc), owners=(owner, sponsor))


def context(uow: Any = None, *, dry_run: bool = False) -> Context:
    return Context(
        uow=uow, tenant=TENANT, now=LATER, base_url="https://tenure.example",
        verdicts=[] if dry_run else None,
    )  # fmt: skip


# --- planners --------------------------------------------------------------------


def test_a_user_created_without_active_is_active_and_members_are_named_once() -> None:
    users, groups = REGISTRY.resource_types["User"], REGISTRY.resource_types["Group"]
    made = draft_create(
        {"schemas": [users.schema.id], "userName": "bjensen", "externalId": "e-1"},
        users, tenant_id="t1", resource_id="u9", now=NOW,
    )  # fmt: skip
    assert made.resource.doc == {"userName": "bjensen", "active": True}
    assert (made.resource.external_id, made.resource.version, made.members) == ("e-1", 1, {})
    team = draft_create(
        {"schemas": [groups.schema.id], "displayName": "Team",
         "members": [{"value": "u1", "display": "One"}, {"value": "u1"}, {"value": "u2"}]},
        groups, tenant_id="t1", resource_id="g1", now=NOW,
    )  # fmt: skip
    assert team.members == {"u1": None, "u2": None}
    with pytest.raises(InvalidValue, match="member of itself"):
        draft_create(
            {"schemas": [groups.schema.id], "displayName": "Loop", "members": [{"value": "g1"}]},
            groups, tenant_id="t1", resource_id="g1", now=NOW,
        )  # fmt: skip


def test_a_put_keeps_a_users_active_when_left_out_and_clears_a_groups_members() -> None:
    users, groups = REGISTRY.resource_types["User"], REGISTRY.resource_types["Group"]
    before = resource("u1", "User", userName="bjensen", active=False)
    after = draft_replace(
        before, {"schemas": [users.schema.id], "userName": "bj"}, users, now=LATER
    )
    assert after.resource.doc == {"userName": "bj", "active": False}
    assert (after.resource.version, after.resource.last_modified) == (4, LATER)
    assert after.members is None  # a User's PUT says nothing of Group members
    team = resource("g1", "Group", displayName="Team")
    cleared = draft_replace(team, {"schemas": [groups.schema.id], "displayName": "Team"}, groups,
                            now=LATER)  # fmt: skip
    assert cleared.members == {}


def test_changed_paths_name_extension_attributes_one_by_one() -> None:
    before = agent(expiresAt="2027-01-01T00:00:00Z")
    doc = nhi.copy_doc(before.doc)
    doc[GOV]["expiresAt"] = "2027-02-01T00:00:00Z"
    doc[GOV]["scopes"] = ["read"]
    doc["description"] = "new"
    after = msgspec.structs.replace(before, doc=doc, external_id="x")
    assert changed_paths(before, after) == {
        "externalId", "description", f"{GOV}:expiresAt", f"{GOV}:scopes",
    }  # fmt: skip
    assert changed_paths(before, before) == set()


def test_an_orphan_is_flagged_with_its_grace_and_its_owners_are_told() -> None:
    before = agent()
    change = _flag(before, dt.timedelta(hours=72), context(), "owner_left")
    governance = change.after.doc[GOV]
    assert governance["orphanedAt"] == "2026-11-28T14:00:00.000Z"
    assert governance["suspendAt"] == "2026-12-01T14:00:00.000Z"
    assert before.doc[GOV] == {"purpose": "ci"}, "the planner changed its input"
    assert (change.kind, change.actor.token_id, change.reason) == (
        "flag",
        "scheduler",
        "owner_left",
    )
    assert (change.after.version, change.after.last_modified) == (4, LATER)
    assert change.changed == {f"{GOV}:orphanedAt", f"{GOV}:suspendAt"}
    [told] = change.messages
    assert told.payload["data"]["reason"] == "no_active_owner"
    cleared = _flag(change.after, None, context(), "owner_returned")
    assert cleared.after.doc[GOV] == {"purpose": "ci"} and cleared.messages == ()


def test_a_hand_over_makes_the_heir_the_owner_and_keeps_the_sponsors() -> None:
    heir = OwnerRef(value="boss", type="User", display="Boss")
    change = _hand_over(agent(), heir, context())
    assert change.owners == change.after.owners
    assert [(r.value, r.relation) for r in change.owners or ()] == [
        ("boss", "owner"), ("u2", "sponsor"),
    ]  # fmt: skip
    assert change.refs == nhi.Refs(owners={"boss": "Boss"}, sponsors=None)
    assert (change.kind, change.changed, change.reason) == ("update", {"owners"}, "orphaned")
    [told] = change.messages
    assert told.payload["data"]["reason"] == "owner_left"


def test_a_retired_identity_is_suspended_with_its_teardown_and_restored_as_it_was() -> None:
    before = agent(lifecycleState="active")
    after, changed = _retired(before, "deleted", LATER, dt.timedelta(days=7))
    governance = after.doc[GOV]
    assert governance["lifecycleState"] == "suspended"
    assert governance["suspendedReason"] == "deleted"
    assert governance["teardownAt"] == "2026-12-05T14:00:00.000Z"
    assert f"{GOV}:suspendedReason" in changed and "active" in changed
    back = _restored(after, {"lifecycleState": "active"}, LATER)
    assert back.doc[GOV] == {"purpose": "ci", "lifecycleState": "active"}
    assert back.version == after.version + 1


def test_a_subtree_is_ordered_parents_first() -> None:
    root = agent("root")
    found = {r.id: r for r in (agent("c2", "c1"), agent("c1", "root"), agent("c3", "root"))}
    assert [r.id for r in _parents_first(root, found)] == ["root", "c1", "c3", "c2"]


# --- the executor at its ports ---------------------------------------------------


class _Judge:
    """Decides as told: ``denied`` holds the ids a policy refuses."""

    def __init__(self, denied: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.denied = denied
        self.batches: list[list[Question]] = []

    async def decide(self, uow: Any, tenant: Tenant, questions: list[Question], now: Any) -> Any:
        self.batches.append(list(questions))
        out = []
        for q in questions:
            proposal = msgspec.defstruct("Proposal", [("actions", tuple), ("reason", str)])(
                actions=(f"{q.kind}_agent",), reason=q.reason
            )
            allowed = q.after.id not in self.denied
            out.append(
                (proposal, Decision(allowed=allowed, actions=proposal.actions,
                                    policy_ids=() if allowed else ("tenure.test",),
                                    reasons=() if allowed else ("refused",)))
            )  # fmt: skip
        return out


class _Resources:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    async def add(self, resource: Resource) -> None:
        self.log.append(("add", resource.id))

    async def replace(self, resource: Resource, members_changed: bool = False) -> None:
        self.log.append(("replace", resource.id))


class _Audit:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    async def append_many(self, events: list[Any]) -> None:
        self.log += [("audit", f"{e.resource_id}:{e.decision}") for e in events]


class _Store:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.resources = _Resources(log)


class _UnitOfWork:
    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.audit, self._store = _Audit(self.log), _Store(self.log)
        self.tenants: set[str] = set()  # whose store was asked for

    def of(self, tenant_id: str) -> _Store:
        self.tenants.add(tenant_id)
        return self._store


def _changes() -> list[Change]:
    return [
        Change(actor=ADMIN, kind="create", before=None, after=agent("a1"), write=Write.ADD),
        Change(actor=ADMIN, kind="update", before=agent("a2"), after=agent("a2"),
               changed=frozenset({"description"})),
    ]  # fmt: skip


def _run(executor: Executor, ctx: Context, **options: Any) -> Any:
    import asyncio

    return asyncio.run(executor.execute(ctx, _changes(), **options))


def test_the_executor_decides_a_batch_at_once_then_writes_and_audits_in_order() -> None:
    judge, uow = _Judge(), _UnitOfWork()
    decisions = _run(Executor(judge, None), context(uow))  # type: ignore[arg-type]
    assert [d.allowed for d in decisions] == [True, True]
    assert len(judge.batches) == 1 and [q.after.id for q in judge.batches[0]] == ["a1", "a2"]
    assert uow.log == [("add", "a1"), ("replace", "a2"), ("audit", "a1:allow"),
                       ("audit", "a2:allow")]  # fmt: skip
    assert uow.tenants == {"t1"}  # the writes went to the context's tenant only


def test_a_denied_change_raises_with_its_audit_event_and_nothing_is_written() -> None:
    uow = _UnitOfWork()
    with pytest.raises(Denied) as denied:
        _run(Executor(_Judge({"a2"}), None), context(uow))  # type: ignore[arg-type]
    assert denied.value.event.resource_id == "a2" and denied.value.event.decision == "deny"
    assert "tenure.test (refused)" in str(denied.value.detail)
    assert uow.log == []


def test_changes_that_stand_alone_leave_out_the_denied_one_and_audit_both() -> None:
    uow = _UnitOfWork()
    decisions = _run(Executor(_Judge({"a1"}), None), context(uow), each=True)  # type: ignore[arg-type]
    assert [d.allowed for d in decisions] == [False, True]
    assert uow.log == [("replace", "a2"), ("audit", "a1:deny"), ("audit", "a2:allow")]


def test_a_dry_run_records_every_verdict_and_audits_nothing() -> None:
    uow = _UnitOfWork()
    ctx = context(uow, dry_run=True)
    _run(Executor(_Judge({"a2"}), None), ctx)  # type: ignore[arg-type]
    assert [(v.resource_id, v.decision.allowed) for v in ctx.verdicts or ()] == [
        ("a1", True), ("a2", False),
    ]  # fmt: skip
    # Written as if allowed (the caller rolls back), so later steps see what follows.
    assert uow.log == [("add", "a1"), ("replace", "a2")]
