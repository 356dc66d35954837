"""An endpoint's signing secret: `whsec_` and the base64 of 32 random bytes,
as the Standard Webhooks specification has it.

The server must sign with it, so unlike an API key (shared.apikeys, kept as
an HMAC) it must be recoverable. It is kept sealed with AES-GCM under a key
derived from the server's SECRET_KEY: a copy of the database alone neither
reveals nor uses it, as it cannot use an API key. Changing SECRET_KEY
makes the sealed secrets unreadable (docs/operating.md#settings)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
_SEALED = "v1:"
_PURPOSE = b"licensecodes webhook secrets"
_NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def key_bytes(secret: str) -> bytes:
    """What signs: the secret's decoded bytes."""
    return base64.b64decode(secret.removeprefix(PREFIX))


def seal(secret: str, server_key: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key(server_key)).encrypt(nonce, secret.encode(), _PURPOSE)
    return _SEALED + base64.b64encode(nonce + sealed).decode()


class SecretUnreadable(ValueError):
    """Sealed under another server key: SECRET_KEY has changed since."""


def unseal(sealed: str, server_key: str) -> str:
    raw = base64.b64decode(sealed.removeprefix(_SEALED))
    try:
        return AESGCM(_key(server_key)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _PURPOSE).decode()
    except InvalidTag:
        raise SecretUnreadable("the secret was sealed under another SECRET_KEY") from None


def _key(server_key: str) -> bytes:
    # A key of its own, so that the sealing key is never the one that signs sessions.
    return hmac.new(server_key.encode(), _PURPOSE, hashlib.sha256).digest()
