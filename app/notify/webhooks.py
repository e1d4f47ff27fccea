"""Webhooks signed as the Standard Webhooks specification says (standardwebhooks.com).

``webhook-id`` (the message's id, the same on every retry, so a receiver can
drop duplicates), ``webhook-timestamp`` (seconds) and ``webhook-signature``:
``v1,`` + base64 HMAC-SHA256 over ``{id}.{timestamp}.{body}`` with the key
that ``whsec_`` + base64 carries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
