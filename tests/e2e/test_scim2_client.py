"""An agent platform registers an Agent with a stock SCIM client (scim2-client),
using only what the server's discovery endpoints publish."""

from __future__ import annotations

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ScimPolicy, ScimProvider

from tests.conftest import Harness

GOVERNANCE = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"


def test_a_discovered_agent_model_registers_an_agent(server: str, harness: Harness) -> None:
    tenant = harness.tenant("platform")
    owner = harness.client.post(
        "/scim/v2/Users", json={"userName": "owner@example.com"}, headers=tenant.headers("admin")
    ).json()
    issued = harness.client.post(
        "/admin/tokens",
        json={
            "name": "agent platform",
            "roles": "platform",
            "owner": owner["id"],
            "purpose": "triage",
        },
        headers=tenant.headers("admin"),
    ).json()
    with httpx2.Client(
        base_url=f"{server}/scim/v2/", headers={"Authorization": f"Bearer {issued['token']}"}
    ) as http:
        # The IETF agent drafts' agentExtension is not in RFC 7643's ServiceProviderConfig.
        client = SyncSCIMClient(
            http, provider=ScimProvider(policy=ScimPolicy(unknown=ScimPolicy.Unknown.ignore))
        )
        client.discover()
        Agent = client.get_resource_model("Agent")
        assert Agent is not None
        created = client.create(Agent(name="triage-bot", display_name="Triage bot"))
    assert created.id
    assert created.name == "triage-bot"

    fetched = harness.client.get(f"/scim/v2/Agents/{created.id}", headers=tenant.headers())
    assert fetched.status_code == 200
    body = fetched.json()
    # A plain IETF registration still yields a governed identity (DESIGN.md "Defaults").
    assert [o["value"] for o in body["owners"]] == [owner["id"]]
    assert body[GOVERNANCE]["purpose"] == "triage"
    assert body[GOVERNANCE]["kind"] == "agent"
    assert body[GOVERNANCE]["registeredBy"] == issued["id"]
    assert body["active"] is True
