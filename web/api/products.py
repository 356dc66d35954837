"""The caller's products (create, change, list, look up) and their codes.
The rules of a product's fields are shared.product_fields'; these views only
pass on what the caller sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import g, jsonify, url_for
from flask.typing import ResponseReturnValue

from shared.listings import codes_of
from shared.models import Product, Publisher
from shared.pool.allocations import references_of
from shared.pool.stock import stocks_of_products
from shared.products import NewProduct, ProductChanges, change_product, create_product, product_of, products_of
from web.api import blueprint, schemas
from web.api.pages import next_page_url, window_of
from web.database import db
from web.serialize import code_json, listing_json, product_json

PRODUCT_ID = [{"in": "path", "name": "product_id", "description": "the product's id"}]


@blueprint.get("/products")
@blueprint.response(200, schemas.ProductList, description="The products, by id")
@blueprint.errors()
def list_products() -> ResponseReturnValue:
    """The caller's products"""
    return jsonify({"items": _with_stock(products_of(db(), g.publisher_id))})


@blueprint.post("/products")
@blueprint.arguments(schemas.NewProduct, location="json")
@blueprint.response(201, schemas.Product, description="The product, created", headers=schemas.CREATED_HEADERS)
@blueprint.errors(409)
def new_product(body: dict[str, Any]) -> ResponseReturnValue:
    """Create a product

    A product id or short code taken on the server, by any publisher, is a
    409 (`product_id_taken`, `short_code_taken`) that does not say by whom.
    A retry after a lost response is a 409 too, never a second product:
    GET the product to see that it is yours.
    """
    publisher = db().get_one(Publisher, g.publisher_id)
    product = create_product(db(), publisher, NewProduct(**body))
    db().commit()
    location = url_for("api.get_product", product_id=product.product_id)
    return jsonify(_with_stock([product])[0]), 201, {"Location": location}


@blueprint.get("/products/<int:product_id>", parameters=PRODUCT_ID)
@blueprint.response(200, schemas.Product, description="The product")
@blueprint.errors(404)
def get_product(product_id: int) -> ResponseReturnValue:
    """One product"""
    return jsonify(_with_stock([product_of(db(), g.publisher_id, product_id)])[0])


@blueprint.patch("/products/<int:product_id>", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.ProductChanges, location="json")
@blueprint.response(200, schemas.Product, description="The product, changed")
@blueprint.errors(404)
def edit_product(body: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """Change a product

    Only the fields sent change. A new prefix or expiry default applies to
    the uploads made from now on; the requests already made and the codes
    already stored keep theirs.
    """
    product = change_product(db(), g.publisher_id, product_id, ProductChanges(body))
    db().commit()
    return jsonify(_with_stock([product])[0])


@blueprint.get("/products/<int:product_id>/codes", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.CodeQuery, location="query")
@blueprint.response(200, schemas.CodePage, description="A page of codes")
@blueprint.errors(404)
def list_codes(query: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """A product's codes, in code order

    A page at a time: follow `next` for the page after, at any depth. The
    total is exact unless `q` is given, and then counted up to 10,000.
    """
    product = product_of(db(), g.publisher_id, product_id)
    window = window_of(query, query.get("after"))  # its length checked by schemas.CodeQuery
    listing = codes_of(db(), product, window, prefix=query.get("q"), status=query.get("status"))
    references = references_of(db(), listing.items)
    items = [code_json(c, references) for c in listing.items]
    return jsonify(listing_json(items, listing, next_page_url(listing, query)))


def _with_stock(products: Sequence[Product]) -> list[dict[str, Any]]:
    """The products as the API shows them, each with the stock of its pool
    (docs/product.md#stock), read for all of them in a few queries."""
    stocks = stocks_of_products(db(), products)
    return [product_json(product, stocks[product.product_id]) for product in products]
