"""Users that become governed identities (DESIGN.md "Defaults"; mapping.py's agentUsers rule).

A User the tenant's rule picks out, or one a write gives a ``kind``, is
registered then: decided as a ``create`` of the identity, with the defaults of
a registration, its bounds counted from that moment.
"""

from __future__ import annotations

import msgspec

from app.domain.actor import Actor
from app.domain.governance import write
from app.domain.resource import Resource
from app.provisioning import mapping, nhi
from app.provisioning.executor import Change, Context, Executor
from app.provisioning.governance import Governance


class Adoption:
    def __init__(self, executor: Executor, governance: Governance) -> None:
        self._executor = executor
        self._governance = governance

    async def adopt(self, ctx: Context, actor: Actor, written: Resource) -> Resource:
        """Users the tenant's ``agentUsers`` rule now picks out (mapping.py) are registered as
        governed identities: each decided as a ``create`` of the identity, on its own.

        ``written`` is the User just written, or a Group whose members changed;
        returns ``written`` as it now is. The User's own change stands even if its
        adoption is refused (no owner, say): the refusal is audited, the User kept.
        """
        uow = ctx.uow
        if written.resource_type == "User":
            candidates, groups = [written], None
        else:
            # Only the rule's own Group is read for members: not every membership change.
            rule = ctx.tenant.settings.agent_users
            name = str(written.doc.get("displayName", ""))
            if rule is None or not mapping.names_group(rule, written.id, name):
                return written
            store = uow.of(written.tenant_id)
            ids = await store.memberships.ungoverned_users_in(written.id)
            candidates = await store.resources.get_many(ids, lock=True)
            groups = {written.id: name}
        for user in candidates:
            marked = await self._governance.adopted(uow, user, groups=groups)
            if marked is None:
                continue
            refs = nhi.Refs(owners=None, sponsors=None)
            adopted, refs = await self.enrolled(ctx, actor, marked, refs)
            adopted = msgspec.structs.replace(
                adopted, version=user.version + 1, last_modified=ctx.now
            )
            resolved = await self._governance.resolve_refs(uow, adopted, refs)
            change = Change(
                actor=actor, kind="create", before=None, after=adopted, refs=refs,
                owners=resolved or (),
            )  # fmt: skip
            (decision,) = await self._executor.execute(ctx, [change], each=True)
            if decision.allowed and adopted.id == written.id:
                written = adopted
        return written

    async def enrolled(
        self, ctx: Context, actor: Actor, user: Resource, refs: nhi.Refs
    ) -> tuple[Resource, nhi.Refs]:
        """A User that becomes a governed identity (a write gives it a ``kind``, or the
        tenant's ``agentUsers`` rule picks it out) gets the defaults of a registration
        (DESIGN.md "Defaults"): its manager, the rule's or the token's owner, the token's
        purpose, an end by its kind; its bounds count from now (``registeredAt``)."""
        if refs.owners is None:
            owner = await self._governance.user_owner(ctx.uow, user)
            refs = msgspec.structs.replace(refs, owners={owner: None}) if owner else refs
        enrolled, refs = await self._governance.created(ctx.uow, user, refs, actor, ctx.now)
        doc = nhi.copy_doc(enrolled.doc)
        write(doc, registered_at=ctx.now)
        return msgspec.structs.replace(enrolled, doc=doc), refs
