"""The responses that stream a file to the caller, for the API and the
screens alike: a completed request's codes (with their SHA-256 in the
headers) and a rejected request's error report. Each body opens its own
database connection: the request's session is gone once streaming starts."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from flask import Response, current_app

from shared import download, report
from shared.models import UploadRequest
from web.database import db


def errors_response(upload: UploadRequest) -> Response:
    """The streamed error report (CSV)."""
    engine = current_app.extensions["licensecodes.engine"]

    def generate() -> Iterator[bytes]:
        # Its own connection: the request's session is gone once streaming starts.
        with engine.connect() as connection:
            yield from report.report_file(connection, upload)

    return _attachment(generate(), "text/csv; charset=utf-8", report.filename(upload.id))


def codes_response(upload: UploadRequest) -> Response:
    """The streamed codes file with its SHA-256 in the headers."""
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
