"""API keys: `lc_<prefix>_<secret>`.

The 12-hex-digit prefix is stored in clear to find the row; the whole key is
stored only as an HMAC-SHA256 under the server's secret key, so a copy of the
database alone cannot be used to call the API. 256 random bits in the secret
part; compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY_SHAPE = re.compile(r"lc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str


def generate() -> NewKey:
    prefix = secrets.token_hex(6)
    return NewKey(plaintext=f"lc_{prefix}_{secrets.token_urlsafe(32)}", prefix=prefix)


def prefix_of(plaintext: str) -> str | None:
    """The lookup prefix of a well-formed key, None for anything else."""
    match = _KEY_SHAPE.fullmatch(plaintext)
    return match.group(1) if match else None


def digest(plaintext: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), plaintext.encode(), hashlib.sha256).hexdigest()


def matches(plaintext: str, stored_digest: str, secret_key: str) -> bool:
    return hmac.compare_digest(digest(plaintext, secret_key), stored_digest)
