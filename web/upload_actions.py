"""What the API and the screens do to a request, written once: accept an
upload (web/accept.py), ask for a generation, delete a queued request, confirm a dry run. Each
commits its transaction itself, because a message may only be published
for a committed request."""

from __future__ import annotations

from flask import current_app

from shared.generation.requests import create_generation
from shared.generation.shape import Generation
from shared.models import Product, UploadRequest
from shared.uploads import confirm_dry_run, delete_upload
from web.database import db


def commit_then_publish(upload: UploadRequest) -> UploadRequest:
    """Commit the new request, then wake the Code Generator for it. Never the
    other way round: a worker could take the message before the row is
    visible, find nothing to claim, and leave the request to the sweep.
    A failed publish is logged, not raised: the sweep publishes again
    (docs/architecture.md#failures-and-what-holds)."""
    db().commit()
    current_app.extensions["licensecodes.dispatcher"].request_processing(upload.id, upload.size_bytes)
    return upload


def delete(publisher_id: int, request_id: int) -> None:
    """Delete a queued request; NotFound or Conflict otherwise."""
    delete_upload(db(), publisher_id, request_id)
    db().commit()


def confirm(publisher_id: int, request_id: int, idempotency_key: str | None = None) -> UploadRequest:
    """A completed dry run becomes a real request from the same stored bytes, queued."""
    window = current_app.extensions["licensecodes.settings"].processing_window_minutes
    return commit_then_publish(confirm_dry_run(db(), publisher_id, request_id, window, idempotency_key))


def generate(publisher_id: int, product: Product, generation: Generation, idempotency_key: str | None) -> UploadRequest:
    """A generation request, queued (docs/product.md#generation-requests); InvalidFields otherwise."""
    window = current_app.extensions["licensecodes.settings"].processing_window_minutes
    return commit_then_publish(
        create_generation(
            db(), publisher_id, product, generation, window_minutes=window, idempotency_key=idempotency_key
        )
    )
