"""Uploads: send a file, watch the request, delete it while queued, download
the codes of a completed one."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from flask import Response, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from shared import download, report, states
from shared.errors import InvalidValue
from shared.models import UploadRequest
from shared.products import product_of
from shared.storage import discard_unshared_blob
from shared.uploads import (
    Page,
    confirm_dry_run,
    is_whole_number,
    upload_of,
    uploads_of,
    why_no_codes,
    why_no_report,
)
from web import idempotency
from web.accept import UploadRefused, accept_upload
from web.api import blueprint
from web.database import db
from web.errors import api_error
from web.serialize import page_json, upload_json


@blueprint.post("/products/<int:product_id>/uploads")
def create_upload(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), g.publisher_id, product_id)
    key = idempotency.requested_key()
    try:
        upload, replayed = idempotency.once_per_file(
            key, lambda: accept_upload(g.publisher_id, product, idempotency_key=key)
        )
    except UploadRefused as refusal:
        return api_error(400, refusal.code, str(refusal))
    return _accepted(upload, replayed)


@blueprint.get("/uploads")
def list_uploads() -> ResponseReturnValue:
    page = Page.parse(request.args.get("page"), request.args.get("per_page"))
    product_id = request.args.get("product_id")
    if product_id is not None and not is_whole_number(product_id):
        raise InvalidValue(f"product_id must be a whole number, not {product_id!r}")
    uploads, total = uploads_of(
        db(),
        g.publisher_id,
        page,
        product_id=int(product_id) if product_id is not None else None,
        status=request.args.get("status"),  # `status=` is refused, as the document's enum says
    )
    return jsonify(page_json([upload_json(u) for u in uploads], page.number, page.per_page, total))


@blueprint.get("/uploads/<int:upload_id>")
def get_upload(upload_id: int) -> ResponseReturnValue:
    return jsonify(upload_json(upload_of(db(), g.publisher_id, upload_id)))


@blueprint.delete("/uploads/<int:upload_id>")
def delete_upload(upload_id: int) -> ResponseReturnValue:
    blob_id = states.delete(db(), g.publisher_id, upload_id)
    discard_unshared_blob(db(), blob_id)
    db().commit()
    return "", 204


@blueprint.get("/uploads/<int:upload_id>/codes.txt")
def download_codes(upload_id: int) -> ResponseReturnValue:
    upload = upload_of(db(), g.publisher_id, upload_id)
    refusal = why_no_codes(upload)
    return api_error(409, *refusal) if refusal else codes_response(upload)


@blueprint.post("/uploads/<int:upload_id>/confirm")
def confirm_upload(upload_id: int) -> ResponseReturnValue:
    settings = current_app.extensions["licensecodes.settings"]
    key = idempotency.requested_key()

    def confirm() -> UploadRequest:
        real = confirm_dry_run(db(), g.publisher_id, upload_id, settings.processing_window_minutes, key)
        db().commit()
        current_app.extensions["licensecodes.dispatcher"].request_processing(real.id, real.size_bytes)
        return real

    real, replayed = idempotency.once(key, confirm, same=lambda earlier: earlier.confirmed_from_id == upload_id)
    return _accepted(real, replayed)


def _accepted(upload: UploadRequest, replayed: bool) -> ResponseReturnValue:
    headers = {"Location": url_for("api.get_upload", upload_id=upload.id)}
    if replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return jsonify(upload_json(upload)), 202, headers


@blueprint.get("/uploads/<int:upload_id>/errors.csv")
def download_errors(upload_id: int) -> ResponseReturnValue:
    upload = upload_of(db(), g.publisher_id, upload_id)
    refusal = why_no_report(upload)
    return api_error(409, *refusal) if refusal else errors_response(upload)


def errors_response(upload: UploadRequest) -> Response:
    """The streamed error report; also used by the web screens."""
    engine = current_app.extensions["licensecodes.engine"]

    def generate() -> Iterator[bytes]:
        # Its own connection: the request's session is gone once streaming starts.
        with engine.connect() as connection:
            yield from report.report_file(connection, upload)

    return _attachment(generate(), "text/csv; charset=utf-8", report.filename(upload.id))


def codes_response(upload: UploadRequest) -> Response:
    """The streamed download with its SHA-256 in the headers; also used by
    the web screens. codes_file opens its own connection: the request's
    session is gone once streaming starts."""
    engine = current_app.extensions["licensecodes.engine"]
    response = _attachment(
        download.codes_file(engine, upload.id), "text/plain; charset=windows-1252", download.filename(upload.id)
    )
    response.headers.update(checksum_headers(_codes_sha256(upload)))
    return response


def checksum_headers(sha256_hex: str) -> dict[str, str]:
    """Repr-Digest (RFC 9530) for clients that check it: of the representation,
    so it holds whatever content coding a proxy adds, as Content-Digest
    would not. X-Content-SHA256 in hex, as sha256sum prints it, for people
    and scripts."""
    as_base64 = base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")
    return {"Repr-Digest": f"sha-256=:{as_base64}:", "X-Content-SHA256": sha256_hex}


def _codes_sha256(upload: UploadRequest) -> str:
    """Stored when the request completed; a request completed before that
    was kept has it taken and stored by its first download."""
    if upload.codes_sha256 is None:
        engine = current_app.extensions["licensecodes.engine"]
        upload.codes_sha256 = download.codes_sha256_of(engine, upload.id)
        db().commit()
    return upload.codes_sha256


def _attachment(body: Iterator[bytes], content_type: str, filename: str) -> Response:
    response = Response(body)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
