"""Creating a generation request (docs/product.md#generation-requests): the
parameters checked field by field (shared.generation.shape), then a queued
request like an upload's, with the same deadline, product rules and
idempotency key, and no file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from shared.db import add_unique
from shared.errors import IdempotencyKeyTaken, InvalidFields
from shared.generation.shape import Generation
from shared.models import IDEMPOTENCY_CONSTRAINT, Product, UploadRequest
from shared.product_rules import rules_now
from shared.uploads import Asked, deadline

PARAMETERS = ("quantity", "code_type", "format", "expiry_days", "build_no", "seats", "dry_run")


def generation_of(product: Product, body: dict[str, Any]) -> Generation:
    """The generation a JSON body asks for (its fields as sent), for the product."""
    given = {name: body[name] for name in PARAMETERS if name in body}
    unknown = tuple(name for name in body if name not in PARAMETERS)
    return Generation(product_prefix=product.prefix, unknown=unknown, **given)


def create_generation(
    session: Session,
    publisher_id: int,
    product: Product,
    generation: Generation,
    *,
    window_minutes: int,
    idempotency_key: str | None = None,
) -> UploadRequest:
    """A queued generation request for the product; InvalidFields names
    every bad field, and nothing is created then."""
    problems = generation.problems_by_field()
    if problems:
        raise InvalidFields(problems)
    made = generation.code_format()
    request = UploadRequest(
        publisher_id=publisher_id,
        product_id=product.product_id,
        kind="generation",
        format=None,
        code_type=generation.code_type,
        dry_run=generation.dry_run,
        generation=stored_parameters(generation),
        sha256=None,
        # What its codes will weigh, one a line: the queue it goes to, and its progress.
        size_bytes=generation.quantity * (len(made.layout()) + 1),
        deadline_at=deadline(window_minutes),
        enqueued_at=func.now(),
        idempotency_key=idempotency_key,
        product_rules=rules_now(session, publisher_id, product.product_id),
    )
    add_unique(session, request, {IDEMPOTENCY_CONSTRAINT: IdempotencyKeyTaken(Asked.of(request))})
    session.refresh(request)
    return request


def stored_parameters(generation: Generation) -> dict[str, Any]:
    """What the request keeps: every parameter, the format's defaults filled in."""
    return {
        "quantity": generation.quantity,
        "format": generation.code_format().as_json(),
        "expiry_days": generation.expiry_days,
        "build_no": generation.build_no,
        "seats": generation.seats,
    }
