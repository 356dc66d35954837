"""REST API v1 (PRODUCT.md §7). Every route answers for the caller's
publisher only: another publisher's object is a 404, like a missing one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from shared.models import Product
from shared.products import product_of, products_of
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


@blueprint.get("/products")
def list_products() -> ResponseReturnValue:
    return jsonify({"items": [product_json(p) for p in products_of(db(), g.publisher_id)]})


@blueprint.get("/products/<int:product_id>")
def get_product(product_id: int) -> ResponseReturnValue:
    return jsonify(product_json(product_of(db(), g.publisher_id, product_id)))


def product_json(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "short_code": product.short_code,
        "name": product.name,
        "prefix": product.prefix,
        "activation_expiry_days": product.activation_expiry_days,
        "evaluation_expiry_days": product.evaluation_expiry_days,
        "created_at": iso(product.created_at),
    }


def iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
