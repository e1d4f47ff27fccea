"""A stock SCIM client (scim2-client), strict as it comes, against a real server: it
discovers the server, then creates, reads, searches, replaces, patches and deletes
Users, Groups, Agents and ServiceAccounts with models built only from what the
server's discovery endpoints publish. Every response it reads is validated
against those models, unknown attributes refused."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import PatchOp, PatchOperation, ScimPolicy, SearchRequest
from scim2_models.exceptions import NotFoundException

from tests.conftest import Harness

GOVERNANCE = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"


def _strict(server: str, token: str) -> tuple[httpx2.Client, SyncSCIMClient]:
    http = httpx2.Client(
        base_url=f"{server}/scim/v2/", headers={"Authorization": f"Bearer {token}"}
    )
    client = SyncSCIMClient(http)
    # Nothing tolerated: scim2-models' defaults are the strict reading of RFC 7643/7644.
    assert client.provider.policy == ScimPolicy()
    assert ScimPolicy().unknown is ScimPolicy.Unknown.forbid
    return http, client


def test_a_strict_client_discovers_and_manages_all_four_resource_types(
    server: str, harness: Harness
) -> None:
    tenant = harness.tenant("strict")
    owner = tenant.owner()
    http, client = _strict(server, tenant.token("idp,platform"))
    with http:
        client.discover()
        config = client.provider.config
        assert config is not None and config.patch.supported and config.bulk.supported
        names = {t.name for t in client.provider.resource_types}
        assert names == {"User", "Group", "Agent", "ServiceAccount"}

        models = {name: client.get_resource_model(name) for name in names}
        User, Group = models["User"], models["Group"]
        Agent, ServiceAccount = models["Agent"], models["ServiceAccount"]
        first: dict[str, Any] = {
            "User": User(user_name="bjensen@example.com", display_name="Barbara"),
            "Group": Group(display_name="Tour Guides"),
            "Agent": Agent(name="triage-bot", display_name="Triage bot", description="tickets"),
            "ServiceAccount": ServiceAccount(name="ci-deployer", description="deploys"),
        }
        unique = {"User": "userName", "Group": "displayName"}
        for name, resource in first.items():
            model = models[name]
            created = client.create(resource)
            assert isinstance(created, model) and created.id, name
            assert created.meta.resource_type == name

            read = client.query(model, created.id)
            assert read.id == created.id and read.meta.version == created.meta.version

            attribute = unique.get(name, "name")
            value = getattr(read, "user_name", None) or getattr(read, "display_name", None)
            value = getattr(read, "name", value) if attribute == "name" else value
            found = client.search(model, SearchRequest(filter=f'{attribute} eq "{value}"'))
            assert found.total_results == 1 and found.resources[0].id == created.id, name
            listed = client.query(model)
            assert created.id in {r.id for r in listed.resources}, name

            read.display_name = "Replaced " + name
            replaced = client.replace(read)
            assert replaced.display_name == "Replaced " + name
            assert replaced.meta.version != read.meta.version

            path = "displayName"
            patch = PatchOp[model](
                operations=[PatchOperation(op="replace", path=path, value="Patched " + name)]
            )
            patched = client.modify(model, created.id, patch)
            assert patched is not None and patched.display_name == "Patched " + name

            client.delete(model, created.id)
            with pytest.raises(NotFoundException):  # RFC 7644 §3.6: 404 from then on
                client.query(model, created.id)

        # What the defaults made of an Agent registered the plain IETF way is governed,
        # and the strict client reads every Governance attribute the server returns.
        bot = client.create(Agent(name="registered-plainly"))
        governance = getattr(bot, "Governance", None) or bot[GOVERNANCE]
        assert governance.kind == "agent" and governance.lifecycle_state == "active"
        assert [o.value for o in bot.owners] == [owner] and bot.owners[0].status == "active"
        client.delete(Agent, bot.id)


def test_the_strict_client_reads_a_governed_user_and_a_delegated_agent(
    server: str, harness: Harness
) -> None:
    """Owners (the Owners extension on a User), sponsors, parent references: all declared."""
    tenant = harness.tenant("strict-governed")
    owner = tenant.owner()
    admin = tenant.headers("admin")
    bot_user = harness.client.post(
        "/scim/v2/Users",
        json={"userName": "ticket-bot", GOVERNANCE: {"kind": "bot", "purpose": "tickets"},
              "urn:tenure:params:scim:schemas:extension:nhi:1.0:Owners": {
                  "owners": [{"value": owner}]}},
        headers=admin,
    )  # fmt: skip
    assert bot_user.status_code == 201, bot_user.text
    parent = harness.client.post(
        "/scim/v2/Agents",
        json={"name": "parent", GOVERNANCE: {"sponsors": [{"value": owner}]}},
        headers=tenant.headers("idp,platform"),  # the token the client registers its child with
    )
    assert parent.status_code == 201, parent.text
    http, client = _strict(server, tenant.token("idp,platform"))
    with http:
        client.discover()
        User, Agent = client.get_resource_model("User"), client.get_resource_model("Agent")
        # A child named by its parent's $ref, as a client that only kept the URI would.
        child = client.create(
            Agent(name="child", parent={"ref": parent.json()["meta"]["location"]})
        )
        assert child.parent.value == parent.json()["id"]
        read = client.query(User, bot_user.json()["id"])
        extension = read["urn:tenure:params:scim:schemas:extension:nhi:1.0:Owners"]
        assert [o.value for o in extension.owners] == [owner]
        listed = client.query(Agent)
        assert {r.id for r in listed.resources} == {parent.json()["id"], child.id}
