"""The code pool (docs/product.md#the-code-pool): take codes for a
reference, move an allocation, revoke what is left of a leaked batch, read
a product's stock. Each move is one transaction, committed by
web/pool_actions.py (shared with the screens), which fills waiting
backorders right after a commit that made codes available."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, url_for
from flask.typing import ResponseReturnValue

from shared.listings import allocations_of
from shared.models import Allocation
from shared.pool import moves
from shared.pool.allocations import Ask, allocation_of, codes_given
from shared.pool.stock import stock_of
from shared.products import product_of
from shared.statuses import AllocationStatus
from web import idempotency, pool_actions
from web.api import blueprint, schemas
from web.api.pages import next_page_url, window_of
from web.api.products import PRODUCT_ID
from web.api.uploads import UPLOAD_ID
from web.database import db
from web.serialize import allocation_json, batch_revoked_json, listing_json, stock_json

ALLOCATION_ID = [{"in": "path", "name": "allocation_id", "description": "the allocation's id"}]
TAKE_HEADERS = {
    "Location": {"required": True, "description": "the allocation's URL", "schema": {"type": "string"}},
    idempotency.REPLAYED_HEADER: {
        "required": False,
        "description": "present when an earlier call with the same reference made the allocation",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


@blueprint.post("/products/<int:product_id>/allocations", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.AllocationAsk)
@blueprint.response(201, schemas.Allocation, description="Codes taken", headers=TAKE_HEADERS)
@blueprint.alt_response(200, schema=schemas.Allocation, description="The reference's allocation, replayed")
@blueprint.alt_response(202, schema=schemas.Allocation, description="Backordered: codes follow when they arrive")
@blueprint.errors(404, 409)
def take_codes(asked: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """Take codes from the pool for a reference

    All or nothing, oldest codes first. The same reference again returns
    the same allocation (200, Idempotent-Replayed); with a different
    quantity, code type or mode it is a 409 reference_conflict.
    """
    product = product_of(db(), g.publisher_id, product_id)
    taken = pool_actions.take_codes(g.publisher_id, product, Ask(**asked))
    allocation = taken.allocation
    headers = {"Location": url_for("api.get_allocation", allocation_id=allocation.id)}
    if taken.replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
        status = 200
    else:
        status = 202 if allocation.status == AllocationStatus.BACKORDERED else 201
    # The codes a take just handed out are the ones it picked: answered
    # without reading them again, which would take another connection from
    # the pool after the commit (docs/architecture.md#the-cost-of-a-call).
    body = _allocation_json(allocation) if taken.codes is None else allocation_json(allocation, taken.codes)
    return jsonify(body), status, headers


@blueprint.get("/allocations/<int:allocation_id>", parameters=ALLOCATION_ID)
@blueprint.response(200, schemas.Allocation, description="The allocation")
@blueprint.errors(404)
def get_allocation(allocation_id: int) -> ResponseReturnValue:
    """One allocation, with its codes"""
    return jsonify(_allocation_json(allocation_of(db(), g.publisher_id, allocation_id)))


@blueprint.get("/products/<int:product_id>/allocations", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.AllocationQuery, location="query")
@blueprint.response(200, schemas.AllocationPage, description="A page of allocations")
@blueprint.errors(404)
def list_allocations(query: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """A product's allocations, newest first"""
    product = product_of(db(), g.publisher_id, product_id)
    window = window_of(query, query.get("after"))
    listing = allocations_of(db(), product, window, reference=query.get("reference"), status=query.get("status"))
    given = codes_given(db(), listing.items)
    items = [allocation_json(a, given[a.id]) for a in listing.items]
    return jsonify(listing_json(items, listing, next_page_url(listing, query)))


def _move(move: pool_actions.Move, allocation_id: int) -> ResponseReturnValue:
    return jsonify(_allocation_json(pool_actions.move(move, g.publisher_id, allocation_id)))


@blueprint.post("/allocations/<int:allocation_id>/distribute", parameters=ALLOCATION_ID)
@blueprint.response(200, schemas.Allocation, description="Distributed")
@blueprint.errors(404, 409)
def distribute_allocation(allocation_id: int) -> ResponseReturnValue:
    """Hand a reservation's codes out for good"""
    return _move(moves.distribute, allocation_id)


@blueprint.post("/allocations/<int:allocation_id>/release", parameters=ALLOCATION_ID)
@blueprint.response(200, schemas.Allocation, description="Released")
@blueprint.errors(404, 409)
def release_allocation(allocation_id: int) -> ResponseReturnValue:
    """Give a reservation's codes back to the pool (or cancel a backorder)"""
    return _move(moves.release, allocation_id)


@blueprint.post("/allocations/<int:allocation_id>/revoke", parameters=ALLOCATION_ID)
@blueprint.response(200, schemas.Allocation, description="Revoked")
@blueprint.errors(404, 409)
def revoke_allocation(allocation_id: int) -> ResponseReturnValue:
    """Revoke a reserved or distributed allocation's codes: they never return to the pool"""
    return _move(moves.revoke, allocation_id)


@blueprint.post("/uploads/<int:upload_id>/revoke", parameters=UPLOAD_ID)
@blueprint.response(200, schemas.BatchRevoked, description="Revoked")
@blueprint.errors(404, 409)
def revoke_batch(upload_id: int) -> ResponseReturnValue:
    """Revoke every code of a completed upload still in the pool (a leaked batch)

    The response names the allocations that already hold codes of the upload.
    """
    done = pool_actions.revoke_batch(g.publisher_id, upload_id)
    return jsonify(batch_revoked_json(done))


@blueprint.get("/products/<int:product_id>/stock", parameters=PRODUCT_ID)
@blueprint.response(200, schemas.Stock, description="The product's stock")
@blueprint.errors(404)
def get_stock(product_id: int) -> ResponseReturnValue:
    """A product's codes by status and code type, how fast they go, and whether they run low"""
    product = product_of(db(), g.publisher_id, product_id)
    return jsonify(stock_json(product, stock_of(db(), product)))


def _allocation_json(allocation: Allocation) -> dict[str, Any]:
    return allocation_json(allocation, codes_given(db(), [allocation])[allocation.id])
