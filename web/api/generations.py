"""Generation requests (docs/product.md#generation-requests): the Code
Generator makes the codes. The request is then one of the caller's
requests like any upload: watched, deleted, confirmed and downloaded
through /uploads/<id>."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.typing import ResponseReturnValue

from shared.generation.requests import generation_of
from shared.products import product_of
from web import idempotency, upload_actions
from web.api import blueprint, schemas
from web.api.products import PRODUCT_ID
from web.api.uploads import accepted
from web.database import db


@blueprint.post("/products/<int:product_id>/generations", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.Idempotency, location="headers")
@blueprint.arguments(schemas.GenerationAsk, location="json")
@blueprint.response(
    202,
    schemas.Upload,
    description="The generation request, queued (or the earlier try's)",
    headers=schemas.ACCEPTED_HEADERS,
)
@blueprint.errors(404, 409)
def create_generation(headers: dict[str, Any], body: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """Ask the Code Generator to make codes for a product

    Each bad field is a 400 naming it, and nothing is queued. The request
    is watched, deleted while queued, confirmed (a dry run) and downloaded
    at /uploads/<id>, like an upload.
    """
    product = product_of(db(), g.publisher_id, product_id)
    generation = generation_of(product, body)
    key = headers.get("key")
    request, replayed = idempotency.once_per_file(
        key, lambda: upload_actions.generate(g.publisher_id, product, generation, key)
    )
    return accepted(request, replayed)
