"""A stored SCIM resource as every layer sees it: plain data, no framework."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.governance import Governance


class Member(msgspec.Struct, frozen=True, kw_only=True):
    """One Group member (RFC 7643 §4.2): a User or Group of the same tenant."""

    value: str
    type: str  # "User" | "Group"
    display: str | None = None


class GroupRef(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a User's computed ``groups`` (RFC 7643 §4.1.2)."""

    value: str
    display: str | None
    type: str  # "direct" | "indirect"


class OwnerRef(msgspec.Struct, frozen=True, kw_only=True):
    """An accountable owner or sponsor of a non-human identity: a User or Group.

    ``status`` is read live: ``active``, ``inactive`` (a deactivated User) or
    ``removed`` (deleted since): the reference is kept so the loss shows.
    """

    value: str
    type: str  # "User" | "Group"
    relation: str = "owner"  # "owner" | "sponsor"
    display: str | None = None
    status: str = "active"
    # A User owner's RFC 7643 entitlements (values), which bound an NHI's scopes.
    entitlements: tuple[str, ...] = ()


class Resource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource as stored.

    ``doc`` holds the SCIM attributes with canonical names (extensions nested
    under their schema URN), without ``id``, ``externalId``, ``meta``,
    ``members`` and ``groups``, which have their own fields because they are
    server-assigned, promoted or kept in side tables.
    """

    tenant_id: str
    id: str
    resource_type: str
    external_id: str | None
    doc: dict[str, Any]
    version: int
    created: dt.datetime
    last_modified: dt.datetime
    members: tuple[Member, ...] | None = None  # None: not loaded
    groups: tuple[GroupRef, ...] | None = None  # None: not loaded
    owners: tuple[OwnerRef, ...] | None = None  # owners and sponsors; None: not loaded

    @property
    def governance(self) -> Governance:
        """The Governance extension as a typed record (all defaults when it has none)."""
        return Governance.of(self.doc)

    @property
    def etag(self) -> str:
        """Weak entity tag (RFC 7644 §3.14): the version counter."""
        return f'W/"{self.version}"'

    def etag_in(self, header: str) -> bool:
        """Does an If-Match / If-None-Match list name this version? (RFC 7232 §2.3.2 weak match)."""
        tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
        return "*" in tags or self.etag.removeprefix("W/") in tags
