"""The caller's products and their codes."""

from __future__ import annotations

from flask import g, jsonify, request
from flask.typing import ResponseReturnValue

from shared.products import product_of, products_of
from shared.uploads import Page, codes_of
from web.api import blueprint
from web.database import db
from web.serialize import code_json, page_json, product_json


@blueprint.get("/products")
def list_products() -> ResponseReturnValue:
    return jsonify({"items": [product_json(p) for p in products_of(db(), g.publisher_id)]})


@blueprint.get("/products/<int:product_id>")
def get_product(product_id: int) -> ResponseReturnValue:
    return jsonify(product_json(product_of(db(), g.publisher_id, product_id)))


@blueprint.get("/products/<int:product_id>/codes")
def list_codes(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), g.publisher_id, product_id)
    page = Page.parse(request.args.get("page"), request.args.get("per_page"))
    codes, total = codes_of(db(), product, page, prefix=request.args.get("q"), status=request.args.get("status"))
    return jsonify(page_json([code_json(c) for c in codes], page.number, page.per_page, total))
