"""JSON shapes that the API returns and the webhook events carry alike
(docs/product.md#events-signed-webhooks): a request, an allocation. Times are
ISO 8601 UTC. The rest of the API's shapes are web.serialize's."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Protocol

from shared.models import Allocation, UploadRequest


class HandedCode(Protocol):
    """A code as an allocation shows it: a stored code, or one a take just picked."""

    @property
    def code(self) -> str: ...
    @property
    def expiry_days(self) -> int: ...
    @property
    def build_no(self) -> int | None: ...
    @property
    def seats(self) -> int | None: ...


def iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def upload_json(request: UploadRequest) -> dict[str, Any]:
    """A request of either kind; a generation has no file, so no file name, SHA-256 or size."""
    made = request.is_generation
    return {
        "id": request.id,
        "kind": request.kind,
        "format": request.format,
        "product_id": request.product_id,
        "code_type": request.code_type,
        "filename": None if made else request.filename,
        "generation": request.generation,
        "dry_run": request.dry_run,
        "status": request.status,
        "reason_code": request.reason_code,
        "reason": request.reason,
        "errors": request.errors,
        "error_count": request.error_count,
        "code_count": request.code_count,
        "summary": request.summary,
        "sha256": request.sha256,
        "codes_sha256": request.codes_sha256,
        "size_bytes": None if made else request.size_bytes,
        "created_at": iso(request.created_at),
        "started_at": iso(request.started_at),
        "finished_at": iso(request.finished_at),
        "deadline_at": iso(request.deadline_at),
        "file_deleted_at": iso(request.file_deleted_at),
        "progress": progress_json(request),
    }


def progress_json(request: UploadRequest) -> dict[str, int] | None:
    """Null unless the request is processing (shared.loading.progress)."""
    # Imported here: shared.loading imports shared.states, which writes its
    # webhook events (shared.events.outbox) with this module's shapes.
    from shared.loading.progress import checked_so_far

    checked = checked_so_far(request)
    return None if checked is None else {"lines_checked": checked.lines, "percent": checked.percent}


def allocation_json(allocation: Allocation, codes: Sequence[HandedCode]) -> dict[str, Any]:
    return {
        "id": allocation.id,
        "product_id": allocation.product_id,
        "reference": allocation.reference,
        "code_type": allocation.code_type,
        "quantity": allocation.quantity,
        "mode": allocation.mode,
        "status": allocation.status,
        "codes": [
            {"code": c.code, "expiry_days": c.expiry_days, "build_no": c.build_no, "seats": c.seats} for c in codes
        ],
        "created_at": iso(allocation.created_at),
        "filled_at": iso(allocation.filled_at),
        "expires_at": iso(allocation.expires_at),
        "distributed_at": iso(allocation.distributed_at),
        "released_at": iso(allocation.released_at),
        "expired_at": iso(allocation.expired_at),
        "revoked_at": iso(allocation.revoked_at),
    }
