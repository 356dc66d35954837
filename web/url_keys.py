"""An API key in a URL is refused on every route under /api/, the OpenAPI
document's included: URLs end up in logs, proxies and browser histories,
so a key sent in one is exposed whatever the route does with it
(docs/api.md#get-an-api-key).

Checked before anything else of the API, the key's own check included: the
caller learns that the key must be replaced even when it was sent alone.
"""

from __future__ import annotations

from flask import Flask, request
from flask.typing import ResponseReturnValue

from shared import apikeys
from web.errors import api_error

API_PREFIX = "/api/"
# Query parameters that name a credential, whatever their value.
CREDENTIAL_NAMES = frozenset({"api_key", "apikey", "key", "token", "access_token", "authorization", "bearer"})


def init_app(app: Flask) -> None:
    app.before_request(_refuse_key_in_url)


def _refuse_key_in_url() -> ResponseReturnValue | None:
    if not request.path.startswith(API_PREFIX) or not _key_in_url():
        return None
    return api_error(
        400,
        "api_key_in_url",
        "API keys go in the header Authorization: Bearer <key>, never in a URL (URLs end up in logs and "
        "histories). Consider this key exposed: revoke it and send its replacement in the header.",
    )


def _key_in_url() -> bool:
    """A query parameter named like a credential, or holding one of our keys."""
    return any(
        name.lower() in CREDENTIAL_NAMES or apikeys.prefix_of(value.strip()) is not None
        for name, value in request.args.items(multi=True)
    )
