"""JSON shapes of the API (docs/product.md#the-rest-api). Times are ISO 8601 UTC."""

from __future__ import annotations

from typing import Any

from shared.events.deliveries import Logged
from shared.models import LicenseCode, Product, WebhookEndpoint
from shared.paging import Listing
from shared.pool.batches import BatchRevoked
from shared.pool.stock import TypeStock
from shared.shapes import HandedCode, allocation_json, iso, progress_json, upload_json

# The request's and the allocation's shapes are shared with the webhook events (shared.shapes).
__all__ = ["HandedCode", "allocation_json", "iso", "progress_json", "upload_json"]


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


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_until": iso(endpoint.previous_secret_until),
        "created_at": iso(endpoint.created_at),
    }


def delivery_json(logged: Logged) -> dict[str, Any]:
    delivery = logged.delivery
    return {
        "message_id": logged.message.message_id,
        "type": logged.message.type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "finished_at": iso(delivery.finished_at),
        "attempt_log": [
            {
                "attempted_at": iso(a.attempted_at),
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "response": a.response,
                "error": a.error,
            }
            for a in logged.attempts
        ],
    }
