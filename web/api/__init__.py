"""REST API v1 (docs/product.md#the-rest-api): `Authorization: Bearer <api
key>` on every route. Every route returns the caller's publisher's objects
only: another publisher's object is a 404, exactly like a missing one. Each
route declares what it takes and returns (web.api.schemas), from which the
OpenAPI document is built (web.openapi)."""

from __future__ import annotations

from flask import current_app, g, request
from flask.typing import ResponseReturnValue

from shared import apikeys, log_context
from shared.tenants import use_api_key
from web.database import db
from web.errors import api_error
from web.openapi import Blueprint
from web.security import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1", description="Products, codes and uploads")
csrf.exempt(blueprint)

# Calls run outside a transaction, each statement committing itself: a take
# is one statement, and holds the counts it moves only until that statement
# ends, never across a round trip (docs/architecture.md#a-take-in-one-statement).
SELF_COMMITTING = frozenset({"api.take_codes"})


@blueprint.before_request
def _require_api_key() -> ResponseReturnValue | None:
    # A key in the URL was refused before this (web.url_keys), on every route under /api/.
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return api_error(401, "unauthorized", "Send your API key in the header Authorization: Bearer <key>.")
    if request.endpoint in SELF_COMMITTING:
        db().connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    settings = current_app.extensions["licensecodes.settings"]
    use = use_api_key(db(), key.strip(), settings.secret_key)
    if use is None:
        return api_error(401, "unauthorized", "The API key is not valid or has been revoked.")
    if use.noted:
        db().commit()  # the key's last use, kept whatever the call does next
    # Otherwise the call goes on in the transaction the check began, on the
    # same connection: no commit and no second connection from the pool a
    # call (docs/architecture.md#the-cost-of-a-call).
    publisher_id = use.publisher_id
    caller = f"key:{apikeys.prefix_of(key.strip())}"
    wait = current_app.extensions["licensecodes.rate_limits"].retry_after(caller, publisher_id)
    if wait is not None:
        response = api_error(429, "rate_limited", f"Too many calls; try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    g.publisher_id = publisher_id
    log_context.bind(publisher_id=publisher_id)
    return None


from web.api import generations, licensespring, pool, products, uploads, webhooks  # noqa: E402, F401 (the routes register on the blueprint)
