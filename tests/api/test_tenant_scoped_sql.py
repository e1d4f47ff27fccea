"""Every statement a tenant's request runs names that tenant (DESIGN.md "Tenancy").

Ids are random, so a query on ids alone would find nothing of another tenant's
today; the rule is that isolation does not rest on that. The SQL the server
sends while tenants' tokens use SCIM, the reports and the admin API is
captured at the driver, and each reference to a tenant-scoped table must be
constrained by its own ``tenant_id`` (a ``WHERE`` or ``ON`` term), or, for an
INSERT, write it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Harness, TenantAccess, create
from tests.samples import group, user

AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# Tables whose rows belong to one tenant. ``tokens`` is looked up by its keyed
# hash before any tenant is known; ``tenants`` is the tenant itself.
TENANT_TABLES = frozenset(
    {
        "resources",
        "group_members",
        "nhi_owners",
        "retirements",
        "resource_counts",
        "audit_events",
        "audit_heads",
        "audit_checkpoints",
        "request_log",
        "outbox",
    }
)

# Housekeeping about time, not a tenant, that a request may happen to trigger: the
# connection log's retention (store/connections.py ``prune``).
HOUSEKEEPING = ("DELETE FROM request_log WHERE request_log.id IN (SELECT request_log.id ",)

_NAME = r'(?:"?\w+"?\.)?"?(\w+)"?'
_REFERENCE = re.compile(
    rf"\b(?:FROM|JOIN|UPDATE)\s+{_NAME}(?:\s+(?:AS\s+)?\"?(?!WHERE|SET|ON|JOIN|LEFT|ORDER|GROUP"
    rf"|LIMIT|UNION|INNER|OUTER|RETURNING|FOR\b)(\w+)\"?)?",
    re.IGNORECASE,
)
# The extra tables of a comma join: ``FROM group_members, closure``.
_COMMA = re.compile(rf",\s*{_NAME}(?:\s+AS\s+\"?(\w+)\"?)?(?=\s|\)|$)", re.IGNORECASE)
_INSERT = re.compile(rf"\bINSERT INTO\s+{_NAME}\s*\(([^)]*)\)", re.IGNORECASE)


def unscoped(statement: str) -> list[str]:
    """The tenant-scoped tables (by alias) that ``statement`` reads or changes without
    constraining their ``tenant_id``."""
    sql = " ".join(statement.split())
    missing = []
    for table, columns in _INSERT.findall(sql):
        if table in TENANT_TABLES and "tenant_id" not in columns:
            missing.append(f"INSERT INTO {table} without tenant_id")
    references = [(m.group(1), m.group(2)) for m in _REFERENCE.finditer(sql)]
    for from_clause in re.finditer(r"\bFROM\s+([^()]*?)(?=\bWHERE\b|\bJOIN\b|\)|$)", sql, re.I):
        references += _COMMA.findall(from_clause.group(1))
    for table, alias in references:
        if table not in TENANT_TABLES:
            continue
        name = re.escape(alias or table)
        column = rf'"?{name}"?\."?tenant_id"?'
        if not re.search(rf"{column}\s*(?:=|IN\b)|=\s*{column}", sql, re.IGNORECASE):
            missing.append(alias or table)
    return missing


def test_the_checker_sees_a_missing_tenant() -> None:
    """The rule itself, on statements as SQLAlchemy renders them."""
    assert unscoped(
        "SELECT group_members.member_id FROM group_members WHERE group_members.group_id = ?"
    ) == ["group_members"]
    assert unscoped("DELETE FROM nhi_owners WHERE nhi_owners.nhi_id = ?") == ["nhi_owners"]
    assert unscoped(
        "SELECT owner.id FROM nhi_owners LEFT OUTER JOIN resources AS owner ON owner.id = "
        "nhi_owners.owner_id WHERE nhi_owners.tenant_id = ?"
    ) == ["owner"]
    assert unscoped(
        "SELECT 1 FROM group_members, closure WHERE closure.group_id = group_members.member_id"
    ) == ["group_members"]
    assert unscoped("INSERT INTO group_members (group_id, member_id) VALUES (?, ?)") == [
        "INSERT INTO group_members without tenant_id"
    ]
    # Selected is not constrained.
    assert unscoped("SELECT resources.tenant_id FROM resources WHERE resources.id = ?") == [
        "resources"
    ]
    assert (
        unscoped(
            "SELECT owner.id FROM nhi_owners JOIN resources AS owner ON owner.tenant_id = "
            "nhi_owners.tenant_id AND owner.id = nhi_owners.owner_id WHERE nhi_owners.tenant_id = ?"
        )
        == []
    )
    assert unscoped("UPDATE resources SET version=? WHERE resources.tenant_id = ?") == []


@pytest.fixture
def statements(harness: Harness) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = [harness.db.engine.sync_engine]
    loop_engine = harness.db.loop_engine
    if loop_engine is not None:
        engines.append(loop_engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _workflow(harness: Harness, tenant: TenantAccess) -> None:
    """What the tenant's clients do: provision, nest, own, change, search, report, retire."""
    c, idp, admin = harness.client, tenant.headers(), tenant.headers("admin")
    people = [create(harness, tenant, "Users", user(f"p{i}@example.com")) for i in range(4)]
    ids = [p["id"] for p in people]
    team = create(harness, tenant, "Groups", group("Team", ids[:2]))
    outer = create(harness, tenant, "Groups", group("Outer", [team["id"]]))
    bot = _ok(
        c.post(
            "/scim/v2/Agents",
            json={
                "schemas": [AGENT, GOV],
                "name": "bot",
                "owners": [{"value": ids[0]}, {"value": team["id"], "type": "Group"}],
                GOV: {"purpose": "ci", "sponsors": [{"value": ids[1]}]},
            },
            headers=admin,
        ),
        201,
    )
    for endpoint, resource in (("Users", people[0]), ("Groups", team), ("Agents", bot)):
        _ok(c.get(f"/scim/v2/{endpoint}/{resource['id']}", headers=admin))
    for query in (
        f'groups.value eq "{outer["id"]}"',
        "groups pr",
        f'members.value eq "{ids[0]}"',
        f'members[value eq "{ids[1]}" and type eq "User"]',
        'userName eq "p1@example.com"',
    ):
        endpoint = "Groups" if query.startswith("members") else "Users"
        _ok(c.get(f"/scim/v2/{endpoint}", params={"filter": query}, headers=idp))
    for query in (f'owners.value eq "{ids[0]}"', f'{GOV}:sponsors.value eq "{ids[1]}"'):
        _ok(c.get("/scim/v2/Agents", params={"filter": query}, headers=admin))
    _ok(c.get("/scim/v2/Users", params={"startIndex": 2, "count": 2}, headers=idp))
    _ok(c.post("/scim/v2/.search", json={"filter": 'displayName sw "T"'}, headers=admin))
    _ok(
        c.patch(
            f"/scim/v2/Groups/{team['id']}",
            json=_patch(
                {"op": "add", "path": "members", "value": [{"value": ids[2]}]},
                {"op": "remove", "path": f'members[value eq "{ids[0]}"]'},
            ),
            headers=idp,
        )
    )
    _ok(
        c.put(
            f"/scim/v2/Groups/{outer['id']}",
            json=group("Outer", [team["id"], ids[3]]),
            headers=idp,
        )
    )
    _ok(
        c.patch(
            f"/scim/v2/Agents/{bot['id']}",
            json=_patch({"op": "replace", "path": "owners", "value": [{"value": ids[2]}]}),
            headers=admin,
        )
    )
    _ok(
        c.patch(
            f"/scim/v2/Users/{ids[3]}",
            json=_patch({"op": "replace", "path": "active", "value": False}),
            headers=idp,
        )
    )
    _ok(c.delete(f"/scim/v2/Users/{ids[2]}", headers=idp), 204)  # the bot's owner leaves
    _ok(
        c.post(
            "/scim/v2/Bulk",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("b@x.org")},
                    {"method": "DELETE", "path": f"/Groups/{outer['id']}"},
                ],
            },
            headers=idp,
        )
    )
    _ok(c.delete(f"/scim/v2/Agents/{bot['id']}", headers=admin), 204)
    _ok(c.post(f"/admin/identities/{bot['id']}/restore", headers=admin))
    auditor = tenant.headers("auditor")
    for report in (
        "ownership",
        "expiring",
        "orphans",
        "summary",
        f"identities/{bot['id']}/history",
    ):
        _ok(c.get(f"/reports/{report}", headers=auditor))
    _ok(c.get("/audit", headers=auditor))
    _ok(c.get("/admin/settings", headers=admin))


def test_every_statement_of_a_tenants_requests_names_the_tenant(
    harness: Harness, statements: list[str]
) -> None:
    first, second = harness.tenant(), harness.tenant()
    for tenant in (first, second):
        tenant.headers("admin"), tenant.headers("auditor")  # tokens issued up front
    statements.clear()
    _workflow(harness, first)
    _workflow(harness, second)
    scoped = [
        s
        for s in statements
        if any(t in s for t in TENANT_TABLES) and not s.startswith(HOUSEKEEPING)
    ]
    assert len(scoped) > 100, "the workflow ran the statements it is meant to check"
    offenders = {s: missing for s in set(scoped) if (missing := unscoped(s))}
    assert offenders == {}, "\n".join(f"{m}: {s}" for s, m in offenders.items())


def test_a_tenants_store_refuses_another_tenants_resources_and_writes_nothing(
    harness: Harness,
) -> None:
    """Repositories are bound to their tenant when made (store/uow.py ``TenantStore``):
    handed a resource of another tenant, a write refuses before any statement runs."""
    from app.domain.resource import Member
    from app.store.sql import OtherTenant

    first, second = harness.tenant(), harness.tenant()
    theirs = create(harness, second, "Users", user("theirs@x.org"))
    team = create(harness, second, "Groups", group("their team"))

    async def attempt() -> list[str]:
        refused = []
        async with harness.db.uow(write=True) as uow:
            found = await uow.of(second.id).resources.get("User", theirs["id"])
            group_of_theirs = await uow.of(second.id).resources.get("Group", team["id"])
            assert found is not None and group_of_theirs is not None
            assert await uow.of(first.id).resources.get("User", theirs["id"]) is None
            mine = uow.of(first.id)
            writes = {
                "replace": mine.resources.replace(found),
                "add": mine.resources.add_many([found]),
                "mark_deleted": mine.resources.mark_deleted(found, harness.clock.now()),
                "members": mine.memberships.change_members(
                    group_of_theirs, clear=True, remove=[], add=[Member(value="x", type="User")]
                ),
                "owners": mine.owners.set_owners(found, "owner", []),
            }
            for name, write in writes.items():
                try:
                    await write
                except OtherTenant:
                    refused.append(name)
            await uow.commit()
        return refused

    assert harness.run(attempt()) == ["replace", "add", "mark_deleted", "members", "owners"]
    idp = second.headers("idp")
    assert harness.client.get(f"/scim/v2/Users/{theirs['id']}", headers=idp).status_code == 200
    got = harness.client.get(f"/scim/v2/Groups/{team['id']}", headers=idp).json()
    assert got.get("members", []) == []
