"""Where a tenant hears of a notification: its webhook, and e-mail to the people concerned."""

from __future__ import annotations

from app.domain.notifications import Message
from app.domain.tenancy import Tenant
from app.notify import plan
from app.store.uow import UnitOfWork


async def route(uow: UnitOfWork, messages: list[Message], *, email: bool) -> int:
    """Plan ``messages`` in this transaction for each channel; how many rows.

    The webhook message, and an e-mail to whom it concerns: the identity's
    owners (Users, at their primary address; its sponsors too when it is
    suspended, orphaned, handed over or torn down, and the tenant's
    ``alertEmails`` when none of them can be written to), or, for what concerns
    the tenant as a whole (a stopped sweep), its ``alertEmails``. A channel the tenant has
    not configured yet (no webhook; no mail server, neither the server's,
    ``email``, nor its own) holds its messages until it is: nothing planned
    meanwhile is lost.
    """
    planned: list[Message] = []
    held: list[Message] = []
    tenants: dict[str, Tenant | None] = {}
    for message in messages:
        if message.tenant_id not in tenants:
            tenants[message.tenant_id] = await uow.tenants.get(message.tenant_id)
        tenant = tenants[message.tenant_id]
        if tenant is None:
            continue
        (planned if tenant.webhook_url else held).append(message)
        identity = message.payload["data"].get("identity")
        if identity is None:
            recipients = list(tenant.settings.alert_emails or ())
        else:
            told = [*identity.get("owners", ())]
            if message.kind in plan.ACCOUNTABLE:
                told += identity.get("sponsors", ())
            users = list(dict.fromkeys(o["value"] for o in told if o.get("type") == "User"))
            recipients = await uow.of(message.tenant_id).resources.emails_of(users)
            if not recipients and message.kind in plan.ACCOUNTABLE:
                recipients = list(tenant.settings.alert_emails or ())
        if recipients:
            mail = plan.email(message, recipients, tenant.name)
            (planned if email or tenant.smtp else held).append(mail)
    return await uow.outbox.plan(planned, held)
