"""Structured JSON logs with a request id on every line; no tokens or passwords ever."""

from __future__ import annotations

import contextvars
import datetime as dt
import itertools
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import error_body
from app.api.media import SCIM_MEDIA_TYPE
from app.domain.limits import MAX_REQUEST_TARGET

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_ids() -> Callable[[], str]:
    """Ids unique across processes and replicas (a random prefix per process) and cheap
    per request (a counter after it): 32 hex digits, like the UUIDs they replace."""
    prefix, counter = secrets.token_hex(8), itertools.count(1)
    return lambda: f"{prefix}{next(counter):016x}"


# Last line of defence: whatever reaches a log, a token's secret part does not.
_TOKEN = re.compile(r"(tnr_[0-9a-f]{16})\.[A-Za-z0-9_-]+")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's terminal-coloured copy of msg
}

access_log = logging.getLogger("tenure.access")
_LOGGED_PATH = 1024


def _scrub(text: str) -> str:
    return _TOKEN.sub(r"\1.***", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _scrub(record.getMessage()),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = _scrub(self.formatException(record.exc_info))
        return msgspec.json.encode(entry, enc_hook=str).decode()


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Drivers log statements with their parameters at DEBUG; keep them out of our stream.
    for name in ("alembic", "aiosqlite", "asyncpg", "sqlalchemy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Our own access log carries the request id and the caller; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True


def _refuse_target(scope: Scope) -> str | None:
    """Why the request target is refused before routing, or None.

    Its length is bounded (``MAX_REQUEST_TARGET``), so that every route reads a
    bounded path and query; and no part of it may carry a NUL (``%00``), which
    no identifier or parameter means and PostgreSQL cannot compare.
    """
    # ASGI's raw_path has no query, but some servers (and test clients) include it.
    raw_path = (scope.get("raw_path") or scope["path"].encode()).partition(b"?")[0]
    query = scope.get("query_string", b"")
    if len(raw_path) + (len(query) + 1 if query else 0) > MAX_REQUEST_TARGET:
        return (
            f"the request target is longer than {MAX_REQUEST_TARGET} bytes; "
            "send a long query as POST …/.search (RFC 7644 §3.4.3)"
        )
    if "\x00" in scope["path"] or b"%00" in raw_path or b"%00" in query or b"\x00" in query:
        return "the request target holds a NUL character (%00)"
    return None


async def _answer(send: Send, detail: str) -> None:
    """A 400 Error body (RFC 7644 §3.12) for a request no route may see."""
    body = msgspec.json.encode(error_body(400, detail))
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", f"{SCIM_MEDIA_TYPE}; charset=utf-8".encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# What a finished request tells its observer: the caller, method, path (with the
# query), status, and an error's body (its first 4 KB).
Observer = Callable[[Any, str, str, int, bytes], None]


def request_context(app: ASGIApp, observe: Observer | None = None) -> ASGIApp:
    """ASGI middleware: request id (taken from X-Request-Id when sane), access log line, and
    the finished request handed to ``observe`` (the connection report's log)."""

    new_id = _request_ids()

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else new_id()
        reset = REQUEST_ID.set(request_id)
        if scope.get("state") is None:
            scope["state"] = {}  # type: ignore[typeddict-unknown-key]
        status = 500
        started = time.perf_counter()
        error = bytearray()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}  # type: ignore[assignment]
            elif message["type"] == "http.response.body" and status >= 400 and len(error) < 4096:
                error.extend(message.get("body", b"")[: 4096 - len(error)])
            await send(message)

        try:
            refusal = _refuse_target(scope)
            if refusal is None:
                await app(scope, receive, send_with_id)
            else:
                await _answer(send_with_id, refusal)
        finally:
            actor = scope["state"].get("actor")  # type: ignore[typeddict-item]
            client = scope.get("client")
            # A refused target may be long; the line need not carry all of it.
            logged_path = scope["path"][:_LOGGED_PATH]
            access_log.info(
                "%s %s %s",
                scope["method"],
                logged_path,
                status,
                extra={
                    "method": scope["method"],
                    "path": logged_path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": client[0] if client else None,
                    "tenant_id": getattr(actor, "tenant_id", None),
                    "token_id": getattr(actor, "token_id", None),
                },
            )
            if observe is not None and actor is not None:
                query = scope.get("query_string", b"").decode("latin-1")
                path = scope["path"] + (f"?{query}" if query else "")
                observe(actor, scope["method"], path, status, bytes(error))
            REQUEST_ID.reset(reset)

    return middleware
