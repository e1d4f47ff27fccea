"""``/admin/webhook``, ``/admin/smtp`` and ``/admin/outbox``: where notifications go, and how
they fare."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from app.api.auth import require, tenant_of
from app.api.media import json_response, lower_query, read_struct
from app.api.services import services
from app.domain.actor import Actor, Permission
from app.domain.limits import MAX_INT64
from app.domain.notifications import Queued
from app.domain.tenancy import SmtpServer
from app.scim.codec import format_datetime
from app.scim.errors import NotFound

AnyRequest = Request[Any, Any, Any]


class WebhookRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: str


class SmtpRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str = msgspec.field(name="from")


def _smtp_view(smtp: SmtpServer | None) -> dict[str, Any]:
    """The tenant's mail server as admins see it: never the password, only whether one is set."""
    if smtp is None:
        return {"configured": False}
    return {
        "configured": True,
        "host": smtp.host,
        "port": smtp.port,
        "starttls": smtp.starttls,
        "username": smtp.username,
        "passwordSet": bool(smtp.password),
        "from": smtp.sender,
    }


def _queued(item: Queued) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "state": item.state,
        "attempts": item.attempts,
        "webhookId": item.message_id,
        "nextAttemptAt": format_datetime(item.next_attempt_at),
        "lastError": item.last_error,
        "created": format_datetime(item.created),
        "sentAt": format_datetime(item.sent_at) if item.sent_at else None,
        "payload": item.payload,
    }


class WebhookAdminController(Controller):
    path = "/admin/webhook"

    @get("/")
    async def read(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        url = await services(request).notifications.webhook(tenant_of(actor))
        return json_response({"url": url, "configured": url is not None})

    @put("/")
    async def replace(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        """Set the URL and make a new signing secret, shown this once (Standard Webhooks)."""
        require(actor, Permission.MANAGE_TOKENS)
        wanted: WebhookRequest = await read_struct(request, WebhookRequest)
        secret = await services(request).notifications.set_webhook(
            tenant_of(actor), wanted.url, actor=actor
        )
        return json_response({"url": wanted.url, "secret": secret})

    @delete("/", status_code=204)
    async def remove(self, request: AnyRequest, actor: NamedDependency[Actor]) -> None:
        require(actor, Permission.MANAGE_TOKENS)
        await services(request).notifications.set_webhook(tenant_of(actor), None, actor=actor)


class SmtpAdminController(Controller):
    """The tenant's own SMTP server; without one, e-mail goes through the server's (if any)."""

    path = "/admin/smtp"

    @get("/")
    async def read(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        return json_response(
            _smtp_view(await services(request).notifications.smtp(tenant_of(actor)))
        )

    @put("/")
    async def replace(self, request: AnyRequest, actor: NamedDependency[Actor]) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        wanted: SmtpRequest = await read_struct(request, SmtpRequest)
        smtp = SmtpServer(
            host=wanted.host,
            port=wanted.port,
            starttls=wanted.starttls,
            username=wanted.username,
            password=wanted.password,
            sender=wanted.sender,
        )
        await services(request).notifications.set_smtp(tenant_of(actor), smtp, actor=actor)
        return json_response(_smtp_view(smtp))

    @delete("/", status_code=204)
    async def remove(self, request: AnyRequest, actor: NamedDependency[Actor]) -> None:
        require(actor, Permission.MANAGE_TOKENS)
        await services(request).notifications.set_smtp(tenant_of(actor), None, actor=actor)


class OutboxAdminController(Controller):
    path = "/admin/outbox"

    @get("/")
    async def list_messages(
        self, request: AnyRequest, actor: NamedDependency[Actor]
    ) -> Response[bytes]:
        """The tenant's notifications, newest first; ``?state=dead`` for the dead letters,
        ``?state=held`` for what waits for a channel to be configured."""
        require(actor, Permission.MANAGE_TOKENS)
        state = lower_query(request).get("state")
        items = await services(request).notifications.outbox(tenant_of(actor), state)
        return json_response({"items": [_queued(i) for i in items]})

    @post("/{message_id:int}/retry", status_code=200)
    async def retry(
        self, request: AnyRequest, actor: NamedDependency[Actor], message_id: FromPath[int]
    ) -> Response[bytes]:
        require(actor, Permission.MANAGE_TOKENS)
        if not 1 <= message_id <= MAX_INT64:  # ids are positive 64-bit integers
            raise NotFound(f"no dead message {message_id} in this tenant's outbox")
        await services(request).notifications.retry(tenant_of(actor), message_id)
        return json_response({"id": message_id, "state": "pending"})
