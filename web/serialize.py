"""JSON shapes of the API (docs/product.md#the-rest-api). Times are ISO 8601 UTC."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Protocol

from shared.loading.progress import checked_so_far
from shared.models import Allocation, LicenseCode, Product, UploadRequest
from shared.paging import Listing
from shared.pool.batches import BatchRevoked
from shared.pool.stock import TypeStock


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


def product_json(product: Product, stock: dict[str, TypeStock]) -> dict[str, Any]:
    """`stock`: the product's, by code type (shared.pool.stock)."""
    return {
        "product_id": product.product_id,
        "short_code": product.short_code,
        "name": product.name,
        "prefix": product.prefix,
        "activation_expiry_days": product.activation_expiry_days,
        "evaluation_expiry_days": product.evaluation_expiry_days,
        "low_stock_threshold": product.low_stock_threshold,
        "stock": {code_type: type_stock_json(one) for code_type, one in stock.items()},
        "created_at": iso(product.created_at),
    }


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
    checked = checked_so_far(request)
    return None if checked is None else {"lines_checked": checked.lines, "percent": checked.percent}


def code_json(code: LicenseCode, references: dict[int, str]) -> dict[str, Any]:
    """`references`: of the allocations holding codes of the page (shared.pool.allocations.references_of)."""
    return {
        "code": code.code,
        "product_id": code.product_id,
        "code_type": code.code_type,
        "expiry_days": code.expiry_days,
        "build_no": code.build_no,
        "seats": code.seats,
        "status": code.status,
        "request_id": code.request_id,
        "line": code.line_no,
        "allocation_id": code.allocation_id,
        "reference": None if code.allocation_id is None else references.get(code.allocation_id),
        "created_at": iso(code.created_at),
    }


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


def stock_json(product: Product, stock: dict[str, TypeStock]) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "low_stock_threshold": product.low_stock_threshold,
        **{code_type: type_stock_json(one) for code_type, one in stock.items()},
    }


def type_stock_json(stock: TypeStock) -> dict[str, Any]:
    return {
        **stock.by_status,
        "backordered": stock.backordered,
        "backorders": stock.backorders,
        "handed_out_last_7_days": stock.handed_out_last_7_days,
        "days_left": stock.days_left,
        "low": stock.low,
    }


def batch_revoked_json(done: BatchRevoked) -> dict[str, Any]:
    return {
        "request_id": done.request_id,
        "revoked": done.revoked,
        "allocations": [{"id": i, "reference": r, "status": s} for i, r, s in done.allocations],
        "allocations_total": done.allocations_total,
    }


def listing_json(items: list[dict[str, Any]], listing: Listing[Any, Any], next_url: str | None) -> dict[str, Any]:
    """A page of a list (docs/api.md#pages)."""
    return {"items": items, "next": next_url, "total": listing.total, "total_is_exact": listing.total_is_exact}
