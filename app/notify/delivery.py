"""Delivering the outbox: at least once, with exponential backoff and jitter, then dead.

A message is claimed with a lease, POSTed to its tenant's webhook, and marked
sent on a 2xx. Anything else is tried again later — 30 s, 1 min, 2 min …
(± half, so a recovering receiver is not hit by every retry at once) — until
``max_attempts``; then it is dead, visible to admins, and can be retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib

import httpx
import msgspec

from app.domain.clock import Clock
from app.domain.notifications import Delivery
from app.domain.tenancy import SmtpServer
from app.notify.email import send
from app.notify.plan import EMAIL
from app.notify.webhooks import headers
from app.store.uow import Database

log = logging.getLogger("tenure.notify")


class Deliverer:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        max_attempts: int = 8,
        first_retry: dt.timedelta = dt.timedelta(seconds=30),
        timeout: float = 10.0,
        batch: int = 100,
        smtp: SmtpServer | None = None,
    ) -> None:
        self._db = db
        self._smtp = smtp
        self._clock = clock
        self._max_attempts = max_attempts
        self._first_retry = first_retry
        self._timeout = timeout
        self._batch = batch

    async def deliver_due(self) -> int:
        """Send what is due now; how many were sent."""
        sent = 0
        # Made only once something is due: a client (its TLS context above all) costs
        # more than an idle run's claim, which finds nothing most of the time.
        client: httpx.AsyncClient | None = None
        try:
            while True:
                now = self._clock.now()
                async with self._db.uow(write=True) as uow:
                    due = await uow.outbox.claim(now, now + dt.timedelta(minutes=5), self._batch)
                    await uow.commit()
                if not due:
                    return sent
                if client is None:
                    client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
                for item in due:
                    sent += await self._send(client, item)
        finally:
            if client is not None:
                await client.aclose()

    async def _send(self, client: httpx.AsyncClient, item: Delivery) -> int:
        attempts = item.attempts + 1
        error = None
        if item.channel == EMAIL:
            error = await self._mail(item)
            if error is None:
                await self._settle(item, "sent", attempts)
                return 1
        elif not item.webhook_url or not item.webhook_secret:
            error = "the tenant has no webhook configured"
        else:
            body = msgspec.json.encode(item.payload)
            stamp = int(self._clock.now().timestamp())
            try:
                response = await client.post(
                    item.webhook_url,
                    content=body,
                    headers=headers(item.webhook_secret, item.message_id, stamp, body),
                )
                if 200 <= response.status_code < 300:
                    await self._settle(item, "sent", attempts)
                    return 1
                error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        if attempts >= self._max_attempts:
            log.error("notification dead", extra={"outbox_id": item.id, "error": error})
            await self._settle(item, "dead", attempts, error=error)
        else:
            delay = self._first_retry * (2 ** (attempts - 1)) * random.uniform(0.5, 1.5)
            await self._settle(item, "pending", attempts, error=error, after=delay)
        return 0

    async def _mail(self, item: Delivery) -> str | None:
        """Send an e-mail; the error, or None once the server took it."""
        smtp = item.smtp or self._smtp  # the tenant's own server, else the server's
        if smtp is None:
            return "no SMTP server is configured"
        try:
            await send(smtp, item.payload, item.message_id, timeout=self._timeout)
        except (OSError, smtplib.SMTPException) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        return None

    async def _settle(
        self,
        item: Delivery,
        state: str,
        attempts: int,
        *,
        error: str | None = None,
        after: dt.timedelta | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._db.uow(write=True) as uow:
            await uow.outbox.settle(
                item.id,
                state=state,
                attempts=attempts,
                now=now,
                next_attempt_at=now + after if after else None,
                error=error,
            )
            await uow.commit()
