"""Governed identities inside the Mutation pipeline: load what the pure rules need, write refs.

The rules themselves are pure (app.provisioning.nhi); this module reads the
parent chain and the owners' existence within the same transaction and keeps
the owners table in step with the resource row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from app.domain.actor import Actor
from app.domain.governance import Governance as GovernanceRecord
from app.domain.governance import write
from app.domain.lifecycle import State, move
from app.domain.resource import OwnerRef, Resource
from app.domain.tenancy import AgentUsers, Tenant
from app.provisioning import mapping, nhi
from app.scim.codec import asserts
from app.scim.errors import InvalidValue
from app.scim.schema import ResourceType
from app.store.uow import TenantStore, UnitOfWork


def named_refs(body: dict[str, Any], resource_type: ResourceType) -> set[str]:
    """Which of owners / sponsors the request names at all (even as [] or null)."""
    named = {"owners"} if asserts(body, resource_type, "owners") else set()
    # Sponsors are in the Governance extension; a governed User's owners in their own.
    for urn, name in ((nhi.GOVERNANCE, "sponsors"), (nhi.OWNERS, "owners")):
        for key, value in body.items():
            if not isinstance(key, str):
                continue
            if key.lower() == urn.lower() and isinstance(value, dict):
                if any(isinstance(k, str) and k.lower() == name for k in value):
                    named.add(name)
            elif key.lower() == f"{urn}:{name}".lower():
                named.add(name)
    return named


def sends_governance(body: dict[str, Any]) -> bool:
    """Does a PUT body carry the Governance extension at all (nested or URN-qualified)?"""
    urn = nhi.GOVERNANCE.lower()
    return any(
        isinstance(key, str) and (key.lower() == urn or key.lower().startswith(urn + ":"))
        for key in body
    )


def with_aliases(body: dict[str, Any]) -> dict[str, Any]:
    """``agentUserName`` (IETF agent drafts) is another name for ``name``."""
    alias = next((k for k in body if isinstance(k, str) and k.lower() == "agentusername"), None)
    if alias is None:
        return body
    out = {k: v for k, v in body.items() if k != alias}
    if not any(isinstance(k, str) and k.lower() == "name" for k in out):
        out["name"] = body[alias]
    return out


class Governance:
    def __init__(self, lifetimes: nhi.Lifetimes) -> None:
        self.defaults = lifetimes

    def lifetimes_of(self, tenant: Tenant) -> nhi.Lifetimes:
        """The server's defaults with the tenant's settings laid over them."""
        return self.defaults.for_tenant(tenant.settings)

    async def _lifetimes(self, uow: UnitOfWork, tenant_id: str) -> nhi.Lifetimes:
        tenant = await uow.tenants.get(tenant_id)  # read once per transaction (its memo)
        return self.lifetimes_of(tenant) if tenant else self.defaults

    async def created(
        self, uow: UnitOfWork, draft: Resource, refs: nhi.Refs, actor: Actor, now: dt.datetime
    ) -> tuple[Resource, nhi.Refs]:
        """Defaults filled in (``nhi.on_create``); policies judge the result."""
        lifetimes = await self._lifetimes(uow, draft.tenant_id)
        parent, _ = await self.parent(uow, draft.tenant_id, draft.doc, lifetimes)
        doc, refs = nhi.on_create(
            draft.doc,
            refs,
            draft.resource_type,
            actor=actor,
            now=now,
            lifetimes=lifetimes,
            parent=parent.doc if parent else None,
        )
        nhi.attest_by(doc, now, lifetimes)
        return msgspec.structs.replace(draft, doc=doc), refs

    def reattested(self, tenant: Tenant, before: Resource, after: Resource) -> Resource:
        """A new ``lastAttestedAt`` moves ``attestBy`` on by the tenant's attestation period."""
        new = after.governance.last_attested_at
        if new is None or new == before.governance.last_attested_at:
            return after
        lifetimes = self.lifetimes_of(tenant)
        doc = nhi.copy_doc(after.doc)
        nhi.attest_by(doc, after.created, lifetimes)
        return msgspec.structs.replace(after, doc=doc)

    async def adopted(
        self, uow: UnitOfWork, user: Resource, *, groups: dict[str, str] | None = None
    ) -> Resource | None:
        """``user`` marked as a governed identity if its tenant's ``agentUsers`` rule picks it
        out (and it is not one already); else None. ``groups``: its Groups, if known."""
        if user.resource_type != "User" or nhi.governed("User", user.doc):
            return None
        rule = await self.agent_users(uow, user.tenant_id)
        if rule is None:
            return None
        if groups is None:
            groups = (
                await uow.of(user.tenant_id).memberships.group_names(user.id) if rule.group else {}
            )
        return mapping.marked(user, rule) if mapping.picks(rule, user.doc, groups) else None

    async def agent_users(self, uow: UnitOfWork, tenant_id: str) -> AgentUsers | None:
        """The tenant's rule for Users that are non-human identities, if it has one."""
        tenant = await uow.tenants.get(tenant_id)
        return tenant.settings.agent_users if tenant else None

    async def user_owner(self, uow: UnitOfWork, user: Resource) -> str | None:
        """A governed User's default owner: its manager, else the rule's — if one of the tenant.

        None leaves it to the token's accountable owner (``nhi.on_create``).
        """
        rule = await self.agent_users(uow, user.tenant_id)
        for candidate in (mapping.default_owner(user.doc, None), rule.owner if rule else None):
            if candidate and await uow.of(user.tenant_id).owners.parties([candidate], "owner"):
                return candidate
        return None

    def changed(
        self,
        before: Resource,
        after: Resource,
        *,
        active_named: bool,
        now: dt.datetime,
        extension_sent: bool = True,
        keep_end: bool = True,
    ) -> Resource:
        doc = nhi.on_change(
            before.doc, after.doc, active_named=active_named, now=now,
            extension_sent=extension_sent, keep_end=keep_end,
        )  # fmt: skip
        return msgspec.structs.replace(after, doc=doc, owners=None)

    async def resolve_refs(
        self, uow: UnitOfWork, resource: Resource, refs: nhi.Refs
    ) -> tuple[OwnerRef, ...] | None:
        """The owners and sponsors after a write, with live status; None if it names neither.

        They must be Users or Groups of the tenant; 400 names the first that is not.
        A relation the write does not name keeps its current references.
        """
        if refs.owners is None and refs.sponsors is None:
            return None
        current = resource.owners or ()
        out: list[OwnerRef] = []
        for relation, wanted in (("owner", refs.owners), ("sponsor", refs.sponsors)):
            if wanted is None:
                out += [r for r in current if r.relation == relation]
                continue
            found = await uow.of(resource.tenant_id).owners.parties(wanted, relation)
            missing = [ref for ref in wanted if ref not in found]
            if missing:
                raise InvalidValue(
                    f"{relation} {missing[0]!r} is not a User or Group of this tenant"
                )
            out += [
                msgspec.structs.replace(found[ref], display=display)
                for ref, display in wanted.items()
            ]
        return tuple(out)

    async def write_refs(
        self,
        store: TenantStore,
        resource: Resource,
        refs: nhi.Refs,
        resolved: tuple[OwnerRef, ...],
    ) -> None:
        """Keep the owners table in step with what the write named."""
        for relation, wanted in (("owner", refs.owners), ("sponsor", refs.sponsors)):
            if wanted is not None:
                await store.owners.set_owners(
                    resource, relation, [r for r in resolved if r.relation == relation]
                )

    async def tombstone(self, store: TenantStore, before: Resource, now: dt.datetime) -> Resource:
        """DELETE of an NHI is soft (DESIGN.md): deprovisioned, then a tombstone."""
        doc = nhi.on_change(before.doc, before.doc, active_named=False, now=now)
        write(
            doc, lifecycle_state=move(GovernanceRecord.of(doc).lifecycle_state, State.DEPROVISIONED)
        )
        after = msgspec.structs.replace(
            before, doc=doc, version=before.version + 1, last_modified=now
        )
        containing = await store.memberships.groups_with_member(before.id)
        # It may have been deleted by a client already, and waited out its grace.
        await store.resources.replace(after, retired=True)
        await store.resources.mark_deleted(after, now)
        await store.memberships.touch(containing, now)
        return after

    async def parent(
        self,
        uow: UnitOfWork,
        tenant_id: str,
        doc: dict[str, Any],
        lifetimes: nhi.Lifetimes,
        *,
        retired: bool = False,
    ) -> tuple[Resource | None, int]:
        """The parent Agent and this identity's delegation depth (a root is 1).

        ``retired``: a parent deleted or deprovisioned counts too (what policies
        see of a subtree that is going); a new child needs a live one.
        """
        parent_ref = doc.get("parent")
        parent_id = parent_ref.get("value") if isinstance(parent_ref, dict) else None
        if parent_id is None:
            return None, 1

        agents = uow.of(tenant_id).resources

        async def load(ident: str) -> Resource | None:
            if retired:
                return await agents.get_kept("Agent", ident)
            return await agents.get("Agent", ident, members=False, groups=False)

        parent = await load(parent_id)
        if parent is None:
            raise InvalidValue(f"parent {parent_id!r} is not an Agent of this tenant")
        depth, current = 2, parent
        while (ancestor := (current.doc.get("parent") or {}).get("value")) is not None:
            depth += 1
            if depth > lifetimes.max_depth + 1:
                break
            found = await load(ancestor)
            if found is None:
                break
            current = found
        return parent, depth


async def subtree(uow: UnitOfWork, root: Resource) -> list[Resource]:
    """``root`` and every live descendant (its delegated subtree), locked, each after its
    parent (DESIGN.md "Delegation")."""
    found, index, agents = [root], 0, uow.of(root.tenant_id).resources
    while index < len(found):
        for child_id in await agents.children(found[index].id):
            child = await agents.get("Agent", child_id, lock=True, members=False, groups=False)
            if child is not None:
                found.append(child)
        index += 1
    return found
