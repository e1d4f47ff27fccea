"""A tenant's notification settings (its webhook) and its outbox, for admins."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.domain.clock import Clock
from app.domain.notifications import Queued
from app.notify.webhooks import new_secret
from app.scim.errors import InvalidValue, NotFound
from app.store.uow import Database

STATES = ("pending", "sent", "dead")


class Notifications:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def webhook(self, tenant_id: str) -> str | None:
        async with self._db.uow() as uow:
            tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant.webhook_url

    async def set_webhook(self, tenant_id: str, url: str | None) -> str | None:
        """Point the tenant's notifications at ``url`` with a new signing secret (returned
        once; None when the webhook is removed)."""
        secret = None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
                raise InvalidValue("the webhook URL must be an absolute http(s) URL")
            secret = new_secret()
        async with self._db.uow(write=True) as uow:
            if await uow.tenants.get(tenant_id, lock=True) is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            await uow.tenants.set_webhook(tenant_id, url, secret)
            await uow.commit()
        return secret

    async def outbox(self, tenant_id: str, state: str | None, limit: int = 500) -> list[Queued]:
        if state is not None and state not in STATES:
            raise InvalidValue(f"state must be one of {', '.join(STATES)}")
        async with self._db.uow() as uow:
            return await uow.outbox.of_tenant(tenant_id, state, limit)

    async def retry(self, tenant_id: str, message_id: int) -> None:
        """A dead message back in the queue, to be sent at once."""
        async with self._db.uow(write=True) as uow:
            if not await uow.outbox.requeue(tenant_id, message_id, self._clock.now()):
                raise NotFound(f"no dead message {message_id} in this tenant's outbox")
            await uow.commit()
