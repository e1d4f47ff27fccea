"""Where a tenant hears of a notification: its webhook, and e-mail to the owners."""

from __future__ import annotations

from app.domain.notifications import Message
from app.notify import plan
from app.store.uow import UnitOfWork


async def route(uow: UnitOfWork, messages: list[Message], *, email: bool) -> int:
    """Plan ``messages`` in this transaction for each channel there is; how many rows."""
    planned: list[Message] = []
    tenants: dict[str, bool] = {}
    for message in messages:
        if message.tenant_id not in tenants:
            tenant = await uow.tenants.get(message.tenant_id)
            tenants[message.tenant_id] = bool(tenant and tenant.webhook_url)
        if tenants[message.tenant_id]:
            planned.append(message)
        if not email:
            continue
        identity = message.payload["data"].get("identity") or {}
        users = [o["value"] for o in identity.get("owners", ()) if o.get("type") == "User"]
        recipients = await uow.resources.emails_of(message.tenant_id, users)
        if recipients:
            planned.append(plan.email(message, recipients))
    return await uow.outbox.plan(planned) if planned else 0
