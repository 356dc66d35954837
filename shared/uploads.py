"""Upload requests as a publisher sees them: create, list, look up. Every
lookup goes through the caller's publisher; another publisher's request, like
a deleted one, is not found."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import states
from shared.db import add_unique
from shared.errors import Conflict, FileGone, IdempotencyKeyTaken, InvalidValue, NotFound
from shared.models import CODE_TYPES, IDEMPOTENCY_CONSTRAINT, Product, UploadRequest
from shared.product_rules import rules_now
from shared.statuses import RequestStatus
from shared.storage import StoredFile, discard_unshared_blob

# Bidirectional overrides and isolates survive NFC and would let a file name
# display as something else ("invoice‮txt.exe").
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def display_filename(raw: str | None) -> str:
    """A file name fit for display only: NFC, no control or bidi characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = "".join(c for c in name if c.isprintable() and c not in _BIDI_CONTROLS)
    return name.strip()[:255]


@dataclass(frozen=True)
class Asked:
    """What a request asks for, as far as a retry of its POST must repeat it:
    the same bytes for the same product, format, code type and dry run."""

    product_id: int | None
    format: str
    code_type: str
    dry_run: bool
    sha256: str
    confirmed_from_id: int | None

    @classmethod
    def of(cls, request: UploadRequest) -> Asked:
        return cls(
            request.product_id,
            request.format,
            request.code_type,
            request.dry_run,
            request.sha256,
            request.confirmed_from_id,
        )


def create_request(
    session: Session,
    publisher_id: int,
    product: Product | None,
    stored: StoredFile,
    *,
    format: str,
    filename: str,
    code_type: str,
    dry_run: bool,
    window_minutes: int,
    idempotency_key: str | None = None,
) -> UploadRequest:
    """A queued request for a stored file: TXT for one product, CSV for one
    product or (product None) for any of the publisher's."""
    if code_type not in CODE_TYPES:
        raise InvalidValue(f"code_type must be activation or evaluation, not {code_type!r}")
    if format == "txt" and product is None:
        raise InvalidValue("a TXT file is uploaded for one product; send it to /products/<product_id>/uploads")
    request = UploadRequest(
        publisher_id=publisher_id,
        product_id=product.product_id if product else None,
        format=format,
        code_type=code_type,
        filename=display_filename(filename),
        dry_run=dry_run,
        blob_id=stored.blob_id,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
        deadline_at=_deadline(window_minutes),
        enqueued_at=func.now(),
        idempotency_key=idempotency_key,
        product_rules=rules_now(session, publisher_id, product.product_id if product else None),
    )
    add_unique(session, request, {IDEMPOTENCY_CONSTRAINT: IdempotencyKeyTaken(Asked.of(request))})
    session.refresh(request)
    return request


def delete_upload(session: Session, publisher_id: int, request_id: int) -> None:
    """Delete a queued request of this publisher and, unless another request
    shares them, its stored bytes: nothing of it is processed or kept.
    NotFound or Conflict (not queued) otherwise; the caller commits."""
    discard_unshared_blob(session, states.delete(session, publisher_id, request_id))


def confirm_dry_run(
    session: Session, publisher_id: int, request_id: int, window_minutes: int, idempotency_key: str | None = None
) -> UploadRequest:
    """A completed dry run becomes a real request from the same stored bytes.
    At most once: the database's unique index on confirmed_from_id decides
    between two confirmations that race."""
    dry_run = upload_of(session, publisher_id, request_id)
    if not dry_run.dry_run:
        raise Conflict(f"upload {request_id} is not a dry run; only a dry run can be confirmed")
    if not dry_run.is_completed:
        raise Conflict(f"dry run {request_id} is {dry_run.status}; only a completed dry run can be confirmed")
    gone = FileGone(
        f"the file of dry run {request_id} is no longer kept: this server deletes uploaded files "
        "some days after their request is decided; upload the file again"
    )
    if dry_run.blob_id is None:
        raise gone
    real = UploadRequest(
        publisher_id=publisher_id,
        product_id=dry_run.product_id,
        format=dry_run.format,
        code_type=dry_run.code_type,
        filename=dry_run.filename,
        dry_run=False,
        confirmed_from_id=dry_run.id,
        # The products' rules as they are now: a real request made now, checked again in full.
        product_rules=rules_now(session, publisher_id, dry_run.product_id),
        blob_id=dry_run.blob_id,
        sha256=dry_run.sha256,
        size_bytes=dry_run.size_bytes,
        deadline_at=_deadline(window_minutes),
        enqueued_at=func.now(),
        idempotency_key=idempotency_key,
    )
    conflicts: dict[str, str | Exception] = {
        "uq_upload_requests_confirmed_from_id": f"dry run {request_id} has already been confirmed",
        IDEMPOTENCY_CONSTRAINT: IdempotencyKeyTaken(Asked.of(real)),
        # Its file deleted by the retention while this confirmation was made (shared.retention).
        "fk_upload_requests_blob_id_upload_blobs": gone,
    }
    add_unique(session, real, conflicts)
    session.refresh(real)
    return real


def why_no_codes(upload: UploadRequest) -> tuple[str, str] | None:
    """Why an upload has no codes to download, as (error code, sentence), or None."""
    if not upload.is_completed:
        return "not_completed", f"Upload {upload.id} is {upload.status}; only a completed upload has codes to download."
    if upload.dry_run:
        return "dry_run", f"Upload {upload.id} was a dry run: it stored no codes."
    return None


def why_no_report(upload: UploadRequest) -> tuple[str, str] | None:
    """Why an upload has no error report, as (error code, sentence), or None."""
    if not upload.is_rejected:
        return "not_rejected", f"Upload {upload.id} is {upload.status}; only a rejected upload has an error report."
    return None


def confirmed_among(session: Session, dry_run_ids: Sequence[int]) -> set[int]:
    """Which of these dry runs have been confirmed already."""
    if not dry_run_ids:
        return set()
    confirmed = session.scalars(
        select(UploadRequest.confirmed_from_id).where(UploadRequest.confirmed_from_id.in_(dry_run_ids))
    )
    return {request_id for request_id in confirmed if request_id is not None}


def _deadline(window_minutes: int) -> Any:
    return func.now() + func.make_interval(0, 0, 0, 0, 0, window_minutes)


def upload_of(session: Session, publisher_id: int, request_id: int) -> UploadRequest:
    request = session.scalar(
        select(UploadRequest).where(
            UploadRequest.id == request_id,
            UploadRequest.publisher_id == publisher_id,
            UploadRequest.status != RequestStatus.DELETED,
        )
    )
    if request is None:
        raise NotFound(f"there is no upload {request_id}")
    return request
