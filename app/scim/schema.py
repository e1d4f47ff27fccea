"""Schema registry (RFC 7643 §7 Schema definitions, §6 ResourceTypes, §5 ServiceProviderConfig).

The registry is built from the JSON documents under ``schemas/`` so that what
/Schemas advertises and what the codec enforces are the same data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from app.domain.governance import URN as GOVERNANCE_EXTENSION

SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
GOVERNANCE_URN = GOVERNANCE_EXTENSION
# A governed User's owners: RFC 7643 §4.1 gives Users no ``owners`` of their own.
OWNERS_URN = "urn:tenure:params:scim:schemas:extension:nhi:1.0:Owners"
# draft-abbey-scim-agent-extension §4.1 (Core Schema Extensions: ServiceProviderConfig):
# what an agent-aware client reads. RFC 7643 §5 defines no such attribute, so it is
# served only to tenants that ask; every client can learn of Agents from /ResourceTypes.
AGENT_EXTENSION = {
    "supported": True,
    "agentsSupported": True,
    "agenticApplicationsSupported": False,
}


# Extension URNs of the SCIM 2.0 drafts that clients still send (OneLogin's default
# template): read as the RFC 7643 ones.
_LEGACY = {
    "urn:scim:schemas:extension:enterprise:2.0": (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
    ),
    "urn:scim:schemas:extension:enterprise:1.0": (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
    ),
}


class Attribute(msgspec.Struct, frozen=True, kw_only=True):
    """One attribute definition (RFC 7643 §7)."""

    name: str
    type: str
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    sub_attributes: tuple[Attribute, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name``, matched case-insensitively (RFC 7643 §2.1)."""
        lowered = name.lower()
        for attribute in self.sub_attributes:
            if attribute.name.lower() == lowered:
                return attribute
        return None


def _attribute(raw: dict[str, Any]) -> Attribute:
    return Attribute(
        name=raw["name"],
        type=raw["type"],
        multi_valued=bool(raw.get("multiValued", False)),
        required=bool(raw.get("required", False)),
        case_exact=bool(raw.get("caseExact", False)),
        mutability=raw.get("mutability", "readWrite"),
        returned=raw.get("returned", "default"),
        uniqueness=raw.get("uniqueness", "none"),
        sub_attributes=tuple(_attribute(s) for s in raw.get("subAttributes", ())),
        canonical_values=tuple(raw.get("canonicalValues", ())),
        reference_types=tuple(raw.get("referenceTypes", ())),
    )


class Schema(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    attributes: tuple[Attribute, ...]
    document: dict[str, Any]  # as served by /Schemas

    def attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        for attribute in self.attributes:
            if attribute.name.lower() == lowered:
                return attribute
        return None


# RFC 7643 §3.1: attributes every resource has, outside any schema's list.
COMMON = Schema(
    id="common",
    name="Common",
    document={},
    attributes=(
        Attribute(
            name="id", type="string", case_exact=True, mutability="readOnly", returned="always"
        ),
        Attribute(name="externalId", type="string", case_exact=True),
        Attribute(
            name="meta",
            type="complex",
            mutability="readOnly",
            sub_attributes=(
                Attribute(
                    name="resourceType", type="string", case_exact=True, mutability="readOnly"
                ),
                Attribute(name="created", type="dateTime", mutability="readOnly"),
                Attribute(name="lastModified", type="dateTime", mutability="readOnly"),
                Attribute(
                    name="location", type="reference", case_exact=True, mutability="readOnly"
                ),
                Attribute(name="version", type="string", case_exact=True, mutability="readOnly"),
            ),
        ),
    ),
)


class Extension(msgspec.Struct, frozen=True, kw_only=True):
    schema: Schema
    required: bool


class ResourceType(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    endpoint: str  # "/Users"
    schema: Schema
    extensions: tuple[Extension, ...]
    document: dict[str, Any]

    def extension(self, urn: str) -> Extension | None:
        lowered = _LEGACY.get(urn.lower(), urn.lower())
        for extension in self.extensions:
            if extension.schema.id.lower() == lowered:
                return extension
        return None


class Registry(msgspec.Struct, frozen=True, kw_only=True):
    schemas: dict[str, Schema]  # keyed by lower-cased URN
    resource_types: dict[str, ResourceType]  # keyed by name ("User")
    service_provider_config: dict[str, Any]

    def schema(self, urn: str) -> Schema | None:
        return self.schemas.get(urn.lower())

    def resource_type(self, name: str) -> ResourceType:
        return self.resource_types[name]

    def by_endpoint(self, endpoint: str) -> ResourceType | None:
        lowered = endpoint.lower()
        for resource_type in self.resource_types.values():
            if resource_type.endpoint.lower() == lowered:
                return resource_type
        return None


def build_registry(
    schema_docs: list[dict[str, Any]],
    resource_type_docs: list[dict[str, Any]],
    service_provider_config: dict[str, Any],
) -> Registry:
    """Build the registry from RFC 7643 §7/§6/§5 documents; ValueError if they disagree."""
    schemas = {
        doc["id"].lower(): Schema(
            id=doc["id"],
            name=doc.get("name", doc["id"]),
            attributes=tuple(_attribute(a) for a in doc["attributes"]),
            document=doc,
        )
        for doc in schema_docs
    }

    def lookup(urn: str, owner: str) -> Schema:
        found = schemas.get(urn.lower())
        if found is None:
            raise ValueError(f"resource type {owner} names unknown schema {urn}")
        return found

    resource_types = {}
    for doc in resource_type_docs:
        extensions = tuple(
            Extension(schema=lookup(e["schema"], doc["name"]), required=bool(e.get("required")))
            for e in doc.get("schemaExtensions", ())
        )
        resource_types[doc["name"]] = ResourceType(
            id=doc.get("id", doc["name"]),
            name=doc["name"],
            endpoint=doc["endpoint"],
            schema=lookup(doc["schema"], doc["name"]),
            extensions=extensions,
            document=doc,
        )
    return Registry(
        schemas=schemas,
        resource_types=resource_types,
        service_provider_config=service_provider_config,
    )


def read_registry(directory: Path, overrides: dict[str, Any] | None = None) -> Registry:
    """Read ``schemas/*.json``, ``schemas/resource_types/*.json``, ``ServiceProviderConfig.json``.

    ``overrides`` are merged into the ServiceProviderConfig (one level deep) so
    that limits set by configuration are the limits advertised.
    """

    def load(path: Path) -> dict[str, Any]:
        return json.loads(path.read_text(encoding="utf-8"))

    spc_path = directory / "ServiceProviderConfig.json"
    schema_docs = [load(p) for p in sorted(directory.glob("*.json")) if p != spc_path]
    type_docs = [load(p) for p in sorted((directory / "resource_types").glob("*.json"))]
    spc = load(spc_path)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(spc.get(key), dict):
            spc[key] = {**spc[key], **value}
        else:
            spc[key] = value
    return build_registry(schema_docs, type_docs, spc)
