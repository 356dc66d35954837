"""Uploads: send a file, watch the request, delete it while queued, download
the codes of a completed one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, g, jsonify, url_for
from flask.typing import ResponseReturnValue

from shared import download, report, states
from shared.models import UploadRequest
from shared.products import product_of
from shared.storage import discard_unshared_blob
from shared.uploads import (
    Page,
    confirm_dry_run,
    upload_of,
    uploads_of,
    why_no_codes,
    why_no_report,
)
from web import idempotency
from web.accept import UploadRefused, accept_upload
from web.api import blueprint, schemas
from web.api.products import PRODUCT_ID
from web.database import db
from web.errors import api_error
from web.serialize import page_json, upload_json

UPLOAD_ID = [{"in": "path", "name": "upload_id", "description": "the upload request's id"}]


@blueprint.post("/products/<int:product_id>/uploads", parameters=PRODUCT_ID)
@blueprint.arguments(schemas.Idempotency, location="headers")
@blueprint.multipart(schemas.UploadForm)
@blueprint.response(
    202,
    schemas.Upload,
    description="The upload request, queued (or the earlier try's)",
    headers=schemas.ACCEPTED_HEADERS,
)
@blueprint.errors(404, 409, 413, 415)
def create_upload(headers: dict[str, Any], product_id: int) -> ResponseReturnValue:
    """Upload a file of codes for a product

    Queued for the Code Generator; problems inside the file are its to find.
    """
    product = product_of(db(), g.publisher_id, product_id)
    key = headers.get("key")
    try:
        upload, replayed = idempotency.once_per_file(
            key, lambda: accept_upload(g.publisher_id, product, idempotency_key=key)
        )
    except UploadRefused as refusal:
        return api_error(400, refusal.code, str(refusal))
    return _accepted(upload, replayed)


@blueprint.get("/uploads")
@blueprint.arguments(schemas.UploadQuery, location="query")
@blueprint.response(200, schemas.UploadPage, description="A page of upload requests")
@blueprint.errors()
def list_uploads(query: dict[str, Any]) -> ResponseReturnValue:
    """The caller's upload requests, newest first"""
    page = Page.of(query.get("page"), query.get("per_page"))
    uploads, total = uploads_of(
        db(), g.publisher_id, page, product_id=query.get("product_id"), status=query.get("status")
    )
    return jsonify(page_json([upload_json(u) for u in uploads], page.number, page.per_page, total))


@blueprint.get("/uploads/<int:upload_id>", parameters=UPLOAD_ID)
@blueprint.response(200, schemas.Upload, description="The upload request")
@blueprint.errors(404)
def get_upload(upload_id: int) -> ResponseReturnValue:
    """One upload request"""
    return jsonify(upload_json(upload_of(db(), g.publisher_id, upload_id)))


@blueprint.delete("/uploads/<int:upload_id>", parameters=UPLOAD_ID)
@blueprint.response(204, description="Deleted")
@blueprint.errors(404, 409)
def delete_upload(upload_id: int) -> ResponseReturnValue:
    """Delete an upload request while it is queued"""
    blob_id = states.delete(db(), g.publisher_id, upload_id)
    discard_unshared_blob(db(), blob_id)
    db().commit()
    return Response(status=204)


@blueprint.get("/uploads/<int:upload_id>/codes.txt", parameters=UPLOAD_ID)
@blueprint.response(
    200,
    {"type": "string"},
    content_type="text/plain",
    description="The codes, in file order, expiry filled in",
    headers=schemas.CHECKSUM_HEADERS,
)
@blueprint.errors(404, 409)
def download_codes(upload_id: int) -> ResponseReturnValue:
    """The codes of a completed upload (TXT, Windows-1252, CR LF)"""
    upload = upload_of(db(), g.publisher_id, upload_id)
    refusal = why_no_codes(upload)
    return api_error(409, *refusal) if refusal else codes_response(upload)


@blueprint.post("/uploads/<int:upload_id>/confirm", parameters=UPLOAD_ID)
@blueprint.arguments(schemas.Idempotency, location="headers")
@blueprint.response(202, schemas.Upload, description="The new upload request, queued", headers=schemas.ACCEPTED_HEADERS)
@blueprint.errors(404, 409)
def confirm_upload(headers: dict[str, Any], upload_id: int) -> ResponseReturnValue:
    """Import a completed dry run from the same stored bytes"""
    settings = current_app.extensions["licensecodes.settings"]
    key = headers.get("key")

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


@blueprint.get("/uploads/<int:upload_id>/errors.csv", parameters=UPLOAD_ID)
@blueprint.response(
    200, {"type": "string"}, content_type="text/csv", description="The error report", headers=schemas.ATTACHMENT_HEADERS
)
@blueprint.errors(404, 409)
def download_errors(upload_id: int) -> ResponseReturnValue:
    """Every problem of a rejected upload (CSV)"""
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
