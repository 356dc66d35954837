"""Accepting an upload, for the API and the Upload Codes screen alike:
stream the file into storage, create the request, commit, then wake the
Code Generator. Request-level problems (docs/product.md#the-rest-api) raise UploadRefused
before anything is committed."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from shared.errors import InvalidValue, UploadRefused
from shared.formats.csv import looks_like_csv
from shared.models import Product, UploadRequest
from shared.uploads import create_request
from web.database import db
from web.receive import receive_upload
from web.upload_actions import commit_then_publish

# The words dry_run may be, in any case, blanks around (the document lists them).
BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "": False}


def accept_upload(
    publisher_id: int,
    product: Product | None,
    check_fields: Callable[[dict[str, str]], None] | None = None,
    *,
    csv_only: bool = False,
    idempotency_key: str | None = None,
) -> UploadRequest:
    """Store the file and queue its request. The format is told by content
    (docs/product.md#the-rest-api). `product` None: a CSV for any of the publisher's
    products. `check_fields` sees the form fields before anything is
    committed (the screen checks its CSRF token there)."""
    settings = current_app.extensions["licensecodes.settings"]
    received = receive_upload(request, db(), settings.max_upload_bytes)
    if check_fields is not None:
        check_fields(received.fields)
    if received.stored is None:
        raise UploadRefused("no_file", "Send the file as multipart/form-data, in a part named 'file'.")
    if received.stored.size_bytes == 0:
        raise UploadRefused("empty_file", "The file is empty (0 bytes).")
    format = "csv" if looks_like_csv(received.stored.head) else "txt"
    if csv_only and format != "csv":
        raise UploadRefused(
            "not_csv", "This endpoint imports CSV files with a header row (license__license_key, product__short_code)."
        )
    upload = create_request(
        db(),
        publisher_id,
        product,
        received.stored,
        format=format,
        filename=received.filename,
        code_type=received.fields.get("code_type", "activation"),  # exactly one of CODE_TYPES, as documented
        dry_run=parse_boolean(received.fields.get("dry_run", "false"), "dry_run"),
        window_minutes=settings.processing_window_minutes,
        idempotency_key=idempotency_key,
    )
    return commit_then_publish(upload)


def parse_boolean(raw: str, name: str) -> bool:
    value = BOOLEAN_WORDS.get(raw.strip().lower())
    if value is None:
        raise InvalidValue(f"{name} must be true or false, not {raw!r}")
    return value
