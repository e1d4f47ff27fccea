"""Agents arriving as Users: a tenant's rule (``agentUsers``) makes them governed identities.

Identity providers push only ``/Users`` and ``/Groups``. A User the rule picks
out — by ``userType``, a ``userName`` pattern or membership of a Group — is
registered as a governed identity of the rule's kind: an end date, owners, a
teardown, like any Agent. Its accountable owner is its enterprise ``manager``
(the person the provider names), else the rule's owner, else the token's.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from app.domain.governance import Governance, write
from app.domain.kinds import KINDS, describe
from app.domain.resource import Resource
from app.domain.tenancy import AgentUsers
from app.provisioning import nhi
from app.scim.errors import InvalidValue

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def check(rule: AgentUsers) -> None:
    """A rule that can pick nothing, or names a bad kind or pattern, is refused (400)."""
    if rule.kind not in KINDS:
        raise InvalidValue(f"agentUsers.kind must be one of {describe()}")
    if not (rule.user_type or rule.user_name_pattern or rule.group):
        raise InvalidValue("agentUsers needs userType, userNamePattern or group")
    if rule.user_name_pattern is not None:
        if len(rule.user_name_pattern) > 200:
            raise InvalidValue("agentUsers.userNamePattern is too long")
        try:
            re.compile(rule.user_name_pattern)
        except re.error as exc:
            raise InvalidValue(
                f"agentUsers.userNamePattern is not a regular expression: {exc}"
            ) from None


def picks(rule: AgentUsers, doc: dict[str, Any], groups: dict[str, str]) -> bool:
    """Does the rule pick out this User? ``groups``: its Groups, id → displayName."""
    user_type, user_name = doc.get("userType"), doc.get("userName")
    if (
        rule.user_type
        and isinstance(user_type, str)
        and user_type.lower() == rule.user_type.lower()
    ):
        return True
    if (
        rule.user_name_pattern
        and isinstance(user_name, str)
        and re.search(rule.user_name_pattern, user_name)
    ):
        return True
    return any(names_group(rule, g, name) for g, name in groups.items())


def names_group(rule: AgentUsers, group_id: str, display_name: str) -> bool:
    """Is this Group the rule's (by id, or by displayName in any case)?"""
    wanted = rule.group
    return bool(wanted) and (group_id == wanted or display_name.lower() == wanted.lower())


def marked(resource: Resource, rule: AgentUsers) -> Resource:
    """The User with the Governance extension's ``kind``: from here on, it is governed."""
    doc = nhi.copy_doc(resource.doc)
    given = Governance.of(doc)
    write(
        doc,
        kind=rule.kind if given.kind is None else given.kind,
        purpose="registered by the identity provider as a non-human identity"
        if given.purpose is None
        else given.purpose,
    )
    return msgspec.structs.replace(resource, doc=doc)


def default_owner(doc: dict[str, Any], rule: AgentUsers | None) -> str | None:
    """The User's manager (enterprise extension), else the rule's owner."""
    extension = doc.get(ENTERPRISE)
    manager = extension.get("manager") if isinstance(extension, dict) else None
    value = manager.get("value") if isinstance(manager, dict) else manager
    if isinstance(value, str) and value:
        return value
    return rule.owner if rule else None
