"""REST API v1 (PRODUCT.md §7): `Authorization: Bearer <api key>` on every
route. Every route answers for the caller's publisher only: another
publisher's object is a 404, exactly like a missing one."""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue

from shared.tenants import publisher_id_for_api_key
from web.database import db
from web.errors import api_error
from web.security import csrf

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(blueprint)


@blueprint.before_request
def _require_api_key() -> ResponseReturnValue | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return api_error(401, "unauthorized", "Send your API key in the header Authorization: Bearer <key>.")
    settings = current_app.extensions["licensecodes.settings"]
    publisher_id = publisher_id_for_api_key(db(), key.strip(), settings.secret_key)
    if publisher_id is None:
        return api_error(401, "unauthorized", "The API key is not valid or has been revoked.")
    db().commit()  # the key's last use
    g.publisher_id = publisher_id
    return None


from web.api import licensespring, products, uploads  # noqa: E402, F401 (the routes register on the blueprint)
