"""The README's role table is what the server does: every cell, tried through HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import Harness, TenantAccess

README = Path(__file__).resolve().parents[2] / "README.md"
GOV = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _table() -> dict[str, dict[str, str]]:
    """role → column → cell, from the table under the README's roles marker."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- roles:", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    out = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        out[cells[0].strip("`")] = dict(zip(header[1:], cells[1:], strict=True))
    return out


def _identity(name: str, owner: str) -> dict[str, Any]:
    # Owners and purpose named, so a token without defaults (admin, idp) may register it.
    return {"name": name, "owners": [{"value": owner}], GOV: {"purpose": "roles table"}}


def test_every_cell_of_the_role_table_is_what_the_server_does(
    harness: Harness, tenant: TenantAccess
) -> None:
    table = _table()
    assert set(table) == {"idp", "platform", "auditor", "admin"}
    owner = tenant.owner()
    client = harness.client

    def status(method: str, path: str, roles: str, body: Any = None) -> int:
        response = client.request(method, path, json=body, headers=tenant.headers(roles))
        assert response.status_code < 500, response.text
        return response.status_code

    # A registering platform of its own, so that "those it registered" is tried both ways.
    other = client.post(
        "/admin/tokens",
        json={"name": "someone else", "roles": "platform", "owner": owner, "purpose": "theirs"},
        headers=tenant.headers("admin"),
    ).json()
    theirs_headers = {"Authorization": f"Bearer {other['token']}"}

    for role, cells in table.items():

        def expect(
            column: str, allowed: int, *results: int, role: str = role, cells: Any = cells
        ) -> None:
            wanted = cells[column] != "no"
            assert all((r == allowed) is wanted for r in results), (role, column, results)
            assert all(r in (allowed, 403) for r in results), (role, column, results)

        n = re.sub(r"\W", "", role)
        expect(
            "read Users, Groups",
            200,
            status("GET", "/scim/v2/Users", role),
            status("GET", "/scim/v2/Groups", role),
        )
        expect(
            "write Users, Groups",
            201,
            status("POST", "/scim/v2/Users", role, {"userName": f"by-{n}"}),
            status("POST", "/scim/v2/Groups", role, {"displayName": f"by {n}"}),
        )
        expect(
            "read Agents, ServiceAccounts",
            200,
            status("GET", "/scim/v2/Agents", role),
            status("GET", "/scim/v2/ServiceAccounts", role),
        )
        expect(
            "register Agents, ServiceAccounts",
            201,
            status("POST", "/scim/v2/Agents", role, _identity(f"a-{n}", owner)),
            status("POST", "/scim/v2/ServiceAccounts", role, _identity(f"s-{n}", owner)),
        )

        # Change and delete: one registered by this role's token (where it may register),
        # and one registered by another platform.
        theirs = client.post("/scim/v2/Agents", json=_identity(f"theirs-{n}", owner),
                             headers=theirs_headers).json()  # fmt: skip
        edit = {"schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "description", "value": n}]}  # fmt: skip
        change = cells["change, delete them"]
        on_theirs = [status("PATCH", f"/scim/v2/Agents/{theirs['id']}", role, edit),
                     status("DELETE", f"/scim/v2/Agents/{theirs['id']}", role)]  # fmt: skip
        assert [r in (200, 204) for r in on_theirs] == [change == "all"] * 2, (role, on_theirs)
        if cells["register Agents, ServiceAccounts"] == "yes":
            mine = client.post("/scim/v2/Agents", json=_identity(f"mine-{n}", owner),
                               headers=tenant.headers(role)).json()  # fmt: skip
            on_mine = [status("PATCH", f"/scim/v2/Agents/{mine['id']}", role, edit),
                       status("DELETE", f"/scim/v2/Agents/{mine['id']}", role)]  # fmt: skip
            assert on_mine == [200, 204], (role, on_mine)
            assert change in ("those it registered", "all")
        else:
            assert change == "no"

        gone = client.post("/scim/v2/Agents", json=_identity(f"gone-{n}", owner),
                           headers=tenant.headers("admin")).json()  # fmt: skip
        assert status("DELETE", f"/scim/v2/Agents/{gone['id']}", "admin") == 204
        expect("restore them", 200, status("POST", f"/admin/identities/{gone['id']}/restore", role))
        expect(
            "`/reports`, `/audit`",
            200,
            status("GET", "/reports/ownership", role),
            status("GET", "/audit", role),
        )
        expect(
            "`/admin/…`",
            200,
            status("GET", "/admin/tokens", role),
            status("GET", "/admin/settings", role),
        )
