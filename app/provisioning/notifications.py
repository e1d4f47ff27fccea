"""A tenant's notification settings (its webhook) and its outbox, for admins."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.audit.events import admin_event
from app.domain.actor import Actor
from app.domain.clock import Clock
from app.domain.notifications import Queued
from app.domain.tenancy import SmtpServer, Tenant, valid_address
from app.notify.plan import EMAIL, WEBHOOK
from app.notify.webhooks import new_secret
from app.scim.errors import InvalidValue, NotFound
from app.store.uow import Database

# "held": planned for a channel the tenant had not configured; sent once it is.
STATES = ("held", "pending", "sent", "dead")


class Notifications:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def _tenant(self, tenant_id: str) -> Tenant:
        async with self._db.uow() as uow:
            tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        return tenant

    async def webhook(self, tenant_id: str) -> str | None:
        return (await self._tenant(tenant_id)).webhook_url

    async def set_webhook(
        self, tenant_id: str, url: str | None, *, actor: Actor | None = None
    ) -> str | None:
        """Point the tenant's notifications at ``url`` with a new signing secret (returned
        once; None when the webhook is removed)."""
        secret = None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
                raise InvalidValue("the webhook URL must be an absolute http(s) URL")
            secret = new_secret()
        async with self._db.uow(write=True) as uow:
            tenant = await uow.tenants.get(tenant_id, lock=True)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            await uow.tenants.set_webhook(tenant_id, url, secret)
            if url is not None:
                await uow.outbox.release(tenant_id, WEBHOOK, self._clock.now())
            if actor is not None:  # a new secret is a change even at the same URL
                await uow.audit.append(
                    admin_event(
                        actor, tenant_id, action="webhook.set", resource_type="Tenant",
                        resource_id=tenant_id, name=tenant.name,
                        before={"url": tenant.webhook_url, "rotated": False},
                        after={"url": url, "rotated": secret is not None},
                        at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()
        return secret

    async def smtp(self, tenant_id: str) -> SmtpServer | None:
        return (await self._tenant(tenant_id)).smtp

    async def set_smtp(
        self, tenant_id: str, smtp: SmtpServer | None, *, actor: Actor | None = None
    ) -> None:
        """The tenant's own mail server for e-mail to its owners (None: the server's)."""
        if smtp is not None:
            if not smtp.host or len(smtp.host) > 253 or any(c.isspace() for c in smtp.host):
                raise InvalidValue("host must be a host name or address")
            if not 1 <= smtp.port <= 65_535:
                raise InvalidValue("port must be between 1 and 65535")
            if not valid_address(smtp.sender):
                raise InvalidValue("from must be an e-mail address")
            if smtp.password and not smtp.username:
                raise InvalidValue("a password needs a username")
        async with self._db.uow(write=True) as uow:
            tenant = await uow.tenants.get(tenant_id, lock=True)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            await uow.tenants.set_smtp(tenant_id, smtp)
            if smtp is not None:
                await uow.outbox.release(tenant_id, EMAIL, self._clock.now())
            if actor is not None:
                await uow.audit.append(
                    admin_event(
                        actor, tenant_id, action="smtp.set", resource_type="Tenant",
                        resource_id=tenant_id, name=tenant.name, before=_smtp(tenant.smtp),
                        after=_smtp(smtp), at=self._clock.now(),
                    )
                )  # fmt: skip
            await uow.commit()

    async def release_email(self) -> int:
        """Every tenant's held e-mail, now that the server has a mail server of its own."""
        async with self._db.uow(write=True) as uow:
            released = await uow.outbox.release(None, EMAIL, self._clock.now())
            await uow.commit()
        return released

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


def _smtp(smtp: SmtpServer | None) -> dict[str, object]:
    """A mail server as the audit log keeps it: whether a password is set, never the password."""
    if smtp is None:
        return {}
    return {"host": smtp.host, "port": smtp.port, "starttls": smtp.starttls,
            "username": smtp.username, "passwordSet": bool(smtp.password),
            "from": smtp.sender}  # fmt: skip
