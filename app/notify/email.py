"""E-mail over SMTP: a plain-text message a person can act on, to the owners' primary address.

The standard library's client, run in a worker thread so the event loop keeps
serving; STARTTLS and login when configured. Credentials never reach a log.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any

from app.domain.tenancy import SmtpServer


def compose(sender: str, payload: dict[str, Any], message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    message["Message-ID"] = f"<{message_id}@tenure>"  # the same on every retry
    message.set_content(payload["text"])
    return message


def _send(smtp: SmtpServer, message: EmailMessage, timeout: float) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


async def send(
    smtp: SmtpServer, payload: dict[str, Any], message_id: str, *, timeout: float = 10.0
) -> None:
    """Send one planned e-mail; raises ``OSError``/``smtplib.SMTPException`` on failure."""
    message = compose(smtp.sender, payload, message_id)
    await asyncio.to_thread(_send, smtp, message, timeout)
