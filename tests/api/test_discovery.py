"""Discovery (RFC 7644 §4) says exactly what the server does."""

from __future__ import annotations

from tests.conftest import Harness, TenantAccess
from tests.samples import ENTERPRISE, GROUP, LIST, USER, assert_error

BASE = "http://testserver.local/scim/v2"
AGENT = "urn:ietf:params:scim:schemas:core:2.0:Agent"
SERVICE_ACCOUNT = "urn:tenure:params:scim:schemas:core:1.0:ServiceAccount"
GOVERNANCE = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
OWNERS = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Owners"


def test_service_provider_config(harness: Harness, tenant: TenantAccess) -> None:
    response = harness.client.get(
        "/scim/v2/ServiceProviderConfig", headers=tenant.headers("auditor")
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    spc = response.json()
    assert spc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert spc["patch"] == {"supported": True}
    assert spc["filter"] == {"supported": True, "maxResults": harness.settings.max_results}
    assert spc["sort"] == {"supported": True}
    assert spc["etag"] == {"supported": True}
    assert spc["bulk"] == {
        "supported": True,
        "maxOperations": harness.settings.bulk_max_operations,
        "maxPayloadSize": harness.settings.max_payload_size,
    }
    # RFC 9865 §4
    assert spc["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": harness.settings.default_count,
        "maxPageSize": harness.settings.max_results,
        "cursorTimeout": 86400,
    }
    # Strictly RFC 7643 §5 by default: nothing a strict client would refuse.
    assert set(spc) == {
        "schemas", "documentationUri", "patch", "bulk", "filter", "changePassword", "sort",
        "etag", "pagination", "authenticationSchemes", "meta",
    }  # fmt: skip
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert spc["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


def test_a_tenant_can_ask_for_the_agent_drafts_advertisement(
    harness: Harness, tenant: TenantAccess
) -> None:
    """The IETF agent drafts (draft-abbey-scim-agent-extension §4.1) add ``agentExtension``;
    a tenant whose clients read it turns it on, and can turn it off again."""

    def spc() -> dict[str, object]:
        response = harness.client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers())
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    assert "agentExtension" not in spc()
    turned = harness.client.patch(
        "/admin/settings", json={"agentExtension": True}, headers=tenant.headers("admin")
    )
    assert turned.status_code == 200, turned.text
    assert turned.json()["agentExtension"] is True
    assert spc()["agentExtension"] == {
        "supported": True, "agentsSupported": True, "agenticApplicationsSupported": False,
    }  # fmt: skip
    other = harness.tenant()
    shown = harness.client.get("/scim/v2/ServiceProviderConfig", headers=other.headers()).json()
    assert "agentExtension" not in shown  # a setting of that tenant only
    harness.client.patch(
        "/admin/settings", json={"agentExtension": None}, headers=tenant.headers("admin")
    )
    assert "agentExtension" not in spc()


def test_resource_types(harness: Harness, tenant: TenantAccess) -> None:
    listed = harness.client.get("/scim/v2/ResourceTypes", headers=tenant.headers()).json()
    assert listed["schemas"] == [LIST]
    assert listed["totalResults"] == 4
    by_name = {r["name"]: r for r in listed["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schema"] == USER
    assert by_name["User"]["schemaExtensions"] == [
        {"schema": ENTERPRISE, "required": False},
        {"schema": GOVERNANCE, "required": False},  # a User with a kind is governed
        {"schema": OWNERS, "required": False},  # …and has owners, which RFC Users lack
    ]
    assert by_name["Group"]["schema"] == GROUP
    assert by_name["User"]["meta"]["location"] == f"{BASE}/ResourceTypes/User"
    one = harness.client.get("/scim/v2/ResourceTypes/Group", headers=tenant.headers()).json()
    assert one == by_name["Group"]
    assert_error(harness.client.get("/scim/v2/ResourceTypes/Nope", headers=tenant.headers()), 404)


def test_schemas_match_what_the_server_enforces(harness: Harness, tenant: TenantAccess) -> None:
    listed = harness.client.get("/scim/v2/Schemas", headers=tenant.headers()).json()
    ids = {s["id"] for s in listed["Resources"]}
    assert ids == {USER, GROUP, ENTERPRISE, AGENT, SERVICE_ACCOUNT, GOVERNANCE, OWNERS}
    user_schema = harness.client.get(f"/scim/v2/Schemas/{USER}", headers=tenant.headers()).json()
    attributes = {a["name"]: a for a in user_schema["attributes"]}
    assert attributes["userName"]["required"] is True
    assert attributes["userName"]["uniqueness"] == "server"
    assert attributes["password"]["mutability"] == "writeOnly"
    assert attributes["password"]["returned"] == "never"
    assert attributes["groups"]["mutability"] == "readOnly"
    assert user_schema["meta"]["location"] == f"{BASE}/Schemas/{USER}"
    # URNs are case-insensitive (RFC 7643 §2.1).
    upper = harness.client.get(f"/scim/v2/Schemas/{USER.upper()}", headers=tenant.headers())
    assert upper.json()["id"] == USER
    assert_error(
        harness.client.get("/scim/v2/Schemas/urn:example:nope", headers=tenant.headers()), 404
    )


def test_discovery_cannot_be_filtered(harness: Harness, tenant: TenantAccess) -> None:
    for path in ("/scim/v2/Schemas", "/scim/v2/ResourceTypes"):
        response = harness.client.get(f'{path}?filter=name eq "User"', headers=tenant.headers())
        assert_error(response, 403)


def test_discovery_needs_a_token(harness: Harness) -> None:
    for path in ("/scim/v2/ServiceProviderConfig", "/scim/v2/Schemas", "/scim/v2/ResourceTypes"):
        assert_error(harness.client.get(path), 401)


def test_public_url_setting_drives_locations(settings, clock) -> None:  # type: ignore[no-untyped-def]
    import msgspec
    from litestar.testing import TestClient

    from app.main import create_app

    public = msgspec.structs.replace(settings, public_url="https://tenure.example.com")
    with TestClient(create_app(public, clock=clock)) as client:
        harness = Harness(client, public, clock)
        tenant = harness.tenant()
        spc = client.get("/scim/v2/ServiceProviderConfig", headers=tenant.headers()).json()
        assert spc["meta"]["location"] == "https://tenure.example.com/scim/v2/ServiceProviderConfig"


def test_every_served_schema_is_an_rfc7643_schema_resource(
    harness: Harness, tenant: TenantAccess
) -> None:
    from scim2_models import ResourceType, Schema

    schemas = harness.client.get("/scim/v2/Schemas", headers=tenant.headers()).json()["Resources"]
    assert {s["id"] for s in schemas} >= {AGENT, SERVICE_ACCOUNT, GOVERNANCE}
    for document in schemas:
        parsed = Schema.model_validate(document)
        assert parsed.id == document["id"]
    types = harness.client.get("/scim/v2/ResourceTypes", headers=tenant.headers()).json()
    for document in types["Resources"]:
        assert ResourceType.model_validate(document).endpoint == document["endpoint"]
