"""Uploads: send a file, watch the request, delete it while queued, download
the codes of a completed one."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, url_for
from flask.typing import ResponseReturnValue

from shared.listings import uploads_of
from shared.models import UploadRequest
from shared.products import product_of
from shared.uploads import upload_of, why_no_codes, why_no_report
from web import idempotency, upload_actions
from web.accept import accept_upload
from web.api import blueprint, schemas
from web.api.pages import next_page_url, window_of
from web.api.products import PRODUCT_ID
from web.database import db
from web.downloads import codes_response, errors_response
from web.errors import api_error
from web.serialize import listing_json, upload_json

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
    upload, replayed = idempotency.once_per_file(
        key, lambda: accept_upload(g.publisher_id, product, idempotency_key=key)
    )
    return _accepted(upload, replayed)


@blueprint.get("/uploads")
@blueprint.arguments(schemas.UploadQuery, location="query")
@blueprint.response(200, schemas.UploadPage, description="A page of upload requests")
@blueprint.errors()
def list_uploads(query: dict[str, Any]) -> ResponseReturnValue:
    """The caller's upload requests, newest first"""
    window = window_of(query, query.get("after"))
    listing = uploads_of(db(), g.publisher_id, window, product_id=query.get("product_id"), status=query.get("status"))
    return jsonify(listing_json([upload_json(u) for u in listing.items], listing, next_page_url(listing, query)))


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
    upload_actions.delete(g.publisher_id, upload_id)
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
@blueprint.errors(404, 409, 410)
def confirm_upload(headers: dict[str, Any], upload_id: int) -> ResponseReturnValue:
    """Import a completed dry run from the same stored bytes"""
    key = headers.get("key")
    real, replayed = idempotency.once(
        key,
        lambda: upload_actions.confirm(g.publisher_id, upload_id, key),
        same=lambda earlier: earlier.confirmed_from_id == upload_id,
    )
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
