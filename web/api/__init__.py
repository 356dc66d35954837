"""REST API v1 (docs/product.md#the-rest-api): `Authorization: Bearer <api
key>` on every route. Every route returns the caller's publisher's objects
only: another publisher's object is a 404, exactly like a missing one. Each
route declares what it takes and returns (web.api.schemas), from which the
OpenAPI document is built (web.openapi)."""

from __future__ import annotations

from flask import current_app, g, request
from flask.typing import ResponseReturnValue

from shared import apikeys, log_context
from shared.tenants import publisher_id_for_api_key
from web.database import db
from web.errors import api_error
from web.openapi import Blueprint
from web.security import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1", description="Products, codes and uploads")
csrf.exempt(blueprint)

_CREDENTIAL_NAMES = frozenset({"api_key", "apikey", "key", "token", "access_token", "authorization", "bearer"})


@blueprint.before_request
def _require_api_key() -> ResponseReturnValue | None:
    if _key_in_url():
        return api_error(
            400,
            "api_key_in_url",
            "API keys go in the header Authorization: Bearer <key>, never in a URL (URLs end up in logs and "
            "histories). Consider this key exposed: revoke it and send its replacement in the header.",
        )
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return api_error(401, "unauthorized", "Send your API key in the header Authorization: Bearer <key>.")
    settings = current_app.extensions["licensecodes.settings"]
    publisher_id = publisher_id_for_api_key(db(), key.strip(), settings.secret_key)
    if publisher_id is None:
        return api_error(401, "unauthorized", "The API key is not valid or has been revoked.")
    db().commit()  # the key's last use
    caller = f"key:{apikeys.prefix_of(key.strip())}"
    wait = current_app.extensions["licensecodes.rate_limits"].retry_after(caller, publisher_id)
    if wait is not None:
        response = api_error(429, "rate_limited", f"Too many calls; try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    g.publisher_id = publisher_id
    log_context.bind(publisher_id=publisher_id)
    return None


def _key_in_url() -> bool:
    """A query parameter named like a credential, or holding one of our keys."""
    return any(
        name.lower() in _CREDENTIAL_NAMES or apikeys.prefix_of(value.strip()) is not None
        for name, value in request.args.items(multi=True)
    )


from web.api import licensespring, products, uploads  # noqa: E402, F401 (the routes register on the blueprint)
