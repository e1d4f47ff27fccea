"""Request bodies shaped like RFC 7643 §8 examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.scim.schema import Attribute, ResourceType, Schema

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GOVERNANCE = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Governance"
# A governed User's owners (Users have no core owners attribute).
OWNERS = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Owners"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def stamp(moment: dt.datetime) -> str:
    """A dateTime as the server writes it (UTC, milliseconds, Z)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def user(user_name: str = "bjensen@example.com", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER],
        "userName": user_name,
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def group(display_name: str = "Tour Guides", members: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": display_name}
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    return body


def assert_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """An RFC 7644 §3.12 Error body with this status (a string) and scimType."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


def immutable_type() -> ResourceType:
    """A synthetic resource type with an immutable and a multi-valued simple attribute."""
    schema = Schema(
        id="urn:example:Thing",
        name="Thing",
        document={},
        attributes=(
            Attribute(name="name", type="string", required=True),
            Attribute(name="kind", type="string", mutability="immutable"),
            Attribute(name="labels", type="string", multi_valued=True),
        ),
    )
    return ResourceType(
        id="Thing", name="Thing", endpoint="/Things", schema=schema, extensions=(), document={}
    )
