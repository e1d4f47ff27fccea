"""/docs/openapi.json describes every route the app serves, no more, in the shapes it serves.

The e2e test (tests/e2e/test_openapi.py) checks real answers against the
document; these check the document against the app and the registry.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Harness

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # no storage involved
_METHODS = {"get", "put", "post", "delete", "patch"}


def _document(harness: Harness) -> dict[str, Any]:
    response = harness.client.get("/docs/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _served(harness: Harness) -> set[tuple[str, str]]:
    """Every (method, path) the app routes, the generic SCIM routes spelled out per
    resource type as /ResourceTypes lists them; /docs itself aside."""
    types = harness.client.get("/scim/v2/ResourceTypes", headers=harness.tenant().headers())
    endpoints = [t["endpoint"] for t in types.json()["Resources"]]
    served = set()
    for route in harness.client.app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if path == "/docs" or path.startswith("/docs/"):
            continue
        paths = (
            [path.replace("/{endpoint}", e) for e in endpoints] if "{endpoint}" in path else [path]
        )
        for method in getattr(route, "methods", ()):
            if method.lower() in _METHODS:
                served |= {(method.lower(), p) for p in paths}
    return served


def test_every_route_is_described_and_nothing_else(harness: Harness) -> None:
    document = _document(harness)
    described = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in _METHODS
    }
    served = _served(harness)
    assert ("get", "/scim/v2/Agents/{resource_id}") in served
    undescribed = sorted(served - described)
    assert not undescribed, (
        f"routes without a description: {undescribed}; "
        "add each to ROUTES in app/api/openapi/routes.py"
    )
    assert not sorted(described - served), "described, but no such route"


def test_every_reference_resolves(harness: Harness) -> None:
    document = _document(harness)
    missing = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str):
                section, _, name = target.removeprefix("#/components/").partition("/")
                if name not in document["components"].get(section, {}):
                    missing.append(target)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert not missing


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def test_bodies_and_answers_have_their_shapes(harness: Harness) -> None:
    document = _document(harness)
    schemas = document["components"]["schemas"]
    without_body = {
        ("post", "/admin/policies/reload"),
        ("post", "/admin/outbox/{message_id}/retry"),
        ("post", "/admin/identities/{resource_id}/restore"),
    }
    for method, path, operation in _operations(document):
        where = f"{method.upper()} {path}"
        if method in ("post", "put", "patch") and (method, path) not in without_body:
            content = operation["requestBody"]["content"]
            assert "application/json" in content, where
            for media in content.values():
                assert media["schema"]["$ref"].split("/")[-1] in schemas, where
        for status, answer in operation["responses"].items():
            for media, described in answer.get("content", {}).items():
                # A JSON answer is an object (the old document said "type: string").
                if "json" in media:
                    name = described["schema"]["$ref"].split("/")[-1]
                    assert schemas[name].get("type") == "object", f"{where} {status}"
            if status.startswith("4"):
                assert answer["content"] == {
                    "application/scim+json": {"schema": {"$ref": "#/components/schemas/Error"}}
                }, f"{where} {status}"
            if status in ("204", "304"):
                assert "content" not in answer, f"{where} {status}"


def test_every_operation_but_the_probes_needs_a_bearer_token(harness: Harness) -> None:
    document = _document(harness)
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    public = {path for _, path, op in _operations(document) if op.get("security") == []}
    assert public == {"/healthz", "/readyz"}
    for _, path, operation in _operations(document):
        if path not in public:
            assert "401" in operation["responses"], path
    assert harness.client.get("/healthz").status_code == 200
    assert harness.client.get("/scim/v2/Users").status_code == 401


def test_resources_are_the_schemas_the_server_serves(harness: Harness) -> None:
    """Each resource type's answer declares exactly what /Schemas declares, as sent, minus
    what it never returns; the request leaves out what is read-only (RFC 7643 §2.2)."""
    document = _document(harness)
    schemas = document["components"]["schemas"]
    headers = harness.tenant().headers()
    served = {s["id"]: s for s in harness.client.get("/scim/v2/Schemas", headers=headers).json()["Resources"]}  # fmt: skip
    types = harness.client.get("/scim/v2/ResourceTypes", headers=headers).json()["Resources"]
    assert {t["name"] for t in types} == {"User", "Group", "Agent", "ServiceAccount"}
    for resource_type in types:
        core = served[resource_type["schema"]]
        extensions = [e["schema"] for e in resource_type.get("schemaExtensions", [])]
        answer, request = schemas[resource_type["name"]], schemas[resource_type["name"] + "Request"]
        returned = {a["name"] for a in core["attributes"] if a.get("returned") != "never"}
        assert set(answer["properties"]) == {
            "schemas",
            "id",
            "externalId",
            "meta",
            *returned,
            *extensions,
        }
        writable = {a["name"] for a in core["attributes"] if a.get("mutability") != "readOnly"}
        assert set(request["properties"]) == {"schemas", "externalId", *writable, *extensions}
        required = [a["name"] for a in core["attributes"] if a.get("required")]
        assert request["required"] == ["schemas", *required]
        assert answer["additionalProperties"] is False
        assert answer["properties"]["schemas"]["items"]["enum"] == [core["id"], *extensions]
        for urn in extensions:
            declared = {
                a["name"] for a in served[urn]["attributes"] if a.get("returned") != "never"
            }
            assert set(answer["properties"][urn]["properties"]) == declared
    listed = schemas["UserList"]["properties"]["Resources"]["items"]
    assert listed == {"$ref": "#/components/schemas/User"}
    paths = document["paths"]
    assert paths["/scim/v2/Users"]["post"]["requestBody"]["content"]["application/scim+json"] == {
        "schema": {"$ref": "#/components/schemas/UserRequest"}
    }
    patch = paths["/scim/v2/Agents/{resource_id}"]["patch"]["requestBody"]["content"]
    assert patch["application/scim+json"]["schema"] == {"$ref": "#/components/schemas/PatchOp"}


def test_admin_bodies_are_the_structs_the_handlers_decode(harness: Harness) -> None:
    schemas = _document(harness)["components"]["schemas"]
    token = schemas["TokenRequest"]
    assert token["required"] == ["name", "roles"] and token["additionalProperties"] is False
    response = harness.client.post(
        "/admin/tokens", json={"name": "x", "roles": "idp", "colour": "blue"},
        headers=harness.tenant().headers("admin"),
    )  # fmt: skip
    assert response.status_code == 400  # the Struct forbids what the schema does not declare
    settings = schemas["Settings"]
    assert set(settings["required"]) == set(schemas["SettingsRequest"]["properties"])


def test_the_browsable_documentation_is_served(harness: Harness) -> None:
    for path in ("/docs", "/docs/swagger"):
        page = harness.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        # The page carries the described document (its bodies and bearer scheme) itself.
        assert '"UserRequest"' in page.text and '"securitySchemes"' in page.text, path
