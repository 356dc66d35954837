"""The two endpoints of LicenseSpring's Management API that a client written
against it uses to import licenses from CSV, responding as LicenseSpring
does. The job is an ordinary upload request (GET /api/v1/uploads/<id>)."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify
from flask.typing import ResponseReturnValue

from shared.models import UploadRequest
from shared.statuses import RequestStatus
from shared.uploads import upload_of
from web import idempotency
from web.accept import accept_upload
from web.api import blueprint, schemas
from web.database import db
from web.serialize import iso

# Our states in LicenseSpring's words.
STATUS = {
    RequestStatus.QUEUED: "pending",
    RequestStatus.PROCESSING: "running",
    RequestStatus.COMPLETED: "success",
    RequestStatus.REJECTED: "error",
}


@blueprint.post("/licenses/import_from_csv/")
@blueprint.arguments(schemas.Idempotency, location="headers")
@blueprint.multipart(schemas.CsvImportForm)
@blueprint.response(200, schemas.ImportJob, description="The job")
@blueprint.errors(409, 413, 415)
def import_from_csv(headers: dict[str, Any]) -> ResponseReturnValue:
    """Import licenses from a CSV file (LicenseSpring compatible)

    The job is an ordinary upload request: /api/v1/uploads/{job_id}.
    """
    key = headers.get("key")
    upload, _ = idempotency.once_per_file(
        key, lambda: accept_upload(g.publisher_id, None, csv_only=True, idempotency_key=key)
    )
    return jsonify({"job_id": upload.id}), 200


@blueprint.get(
    "/licenses-import-results/<int:job_id>/",
    parameters=[{"in": "path", "name": "job_id", "description": "the job id import_from_csv returned"}],
)
@blueprint.response(200, schemas.ImportResult, description="The job's result")
@blueprint.errors(404)
def import_result(job_id: int) -> ResponseReturnValue:
    """A CSV import job (LicenseSpring compatible)"""
    upload = upload_of(db(), g.publisher_id, job_id)
    return jsonify(import_result_json(upload))


def import_result_json(upload: UploadRequest) -> dict[str, Any]:
    return {
        "id": upload.id,
        "file_name": upload.filename,
        "status": STATUS[RequestStatus(upload.status)],
        "created_at": iso(upload.created_at),
        "started_at": iso(upload.started_at),
        "finished_at": iso(upload.finished_at),
        "result": _result(upload),
    }


def _result(upload: UploadRequest) -> dict[str, Any] | None:
    if upload.is_completed:
        rows = upload.code_count or 0
        created = 0 if upload.dry_run else rows
        return _counts(rows, rows, [], created)
    if upload.is_rejected:
        summary = upload.summary or {}
        rows = int(summary.get("rows", upload.error_count))
        valid = int(summary.get("valid_rows", 0))
        # All or nothing: a rejected file creates no license, not even from its valid rows.
        return _counts(rows, valid, upload.errors, 0)
    return None


def _counts(total: int, valid: int, invalid_rows: list[Any], created: int) -> dict[str, Any]:
    return {
        "total_row_count": total,
        "valid_row_count": valid,
        "invalid_rows": invalid_rows,
        "created_licenses_count": created,
        "existed_licenses_count": 0,
    }
