"""The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of
`id.timestamp.body` under the secret's decoded bytes. While a rotation's
old secret still signs, both signatures go, separated by a space, and a
receiver holding either secret verifies the message."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from shared.events.secrets import key_bytes


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key_bytes(secret), signed, hashlib.sha256).digest()).decode()


def signature_header(secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets)
