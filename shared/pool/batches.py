"""A leaked batch: every code of a completed request still in the pool is
revoked in one transaction, and the allocations already holding codes of
that request are named, so the publisher can act on them
(docs/product.md#the-code-pool)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.errors import Conflict
from shared.models import Allocation, LicenseCode
from shared.pool import counts
from shared.statuses import CodeStatus, RequestStatus
from shared.uploads import upload_of

# The allocations a batch revoke names; past this the response counts them.
MAX_NAMED_ALLOCATIONS = 1000

_REVOKE = text(f"""
WITH revoked AS (
    UPDATE license_codes SET status = '{CodeStatus.REVOKED}'
    WHERE request_id = :request_id AND status = '{CodeStatus.AVAILABLE}'
    RETURNING product_id, code_type
)
SELECT product_id, code_type, count(*) FROM revoked GROUP BY 1, 2 ORDER BY 1, 2
""")


@dataclass(frozen=True)
class BatchRevoked:
    request_id: int
    revoked: int
    # (id, reference, status) of the allocations holding codes of the request, oldest first.
    allocations: list[tuple[int, str, str]]
    allocations_total: int


def revoke_request(session: Session, publisher_id: int, request_id: int) -> BatchRevoked:
    """Revoke the request's codes still available. Codes a take holds at this
    moment are waited for: a committed take keeps them (and is named), a
    rolled-back one leaves them to be revoked. The caller commits."""
    request = upload_of(session, publisher_id, request_id)
    if request.status != RequestStatus.COMPLETED or request.dry_run:
        what = "dry run" if request.dry_run else "upload"
        raise Conflict(f"{what} {request_id} is {request.status}; only the codes of a completed upload can be revoked")
    revoked = 0
    for row in session.execute(_REVOKE, {"request_id": request_id}).all():
        product_id, code_type, n = int(row[0]), str(row[1]), int(row[2])
        counts.move(session, product_id, code_type, {CodeStatus.AVAILABLE: -n, CodeStatus.REVOKED: n})
        revoked += n
    holders = (
        select(LicenseCode.allocation_id)
        .where(LicenseCode.request_id == request_id, LicenseCode.allocation_id.is_not(None))
        .distinct()
        .subquery()
    )
    total = session.scalar(select(text("count(*)")).select_from(holders)) or 0
    named = session.execute(
        select(Allocation.id, Allocation.reference, Allocation.status)
        .where(Allocation.id.in_(select(holders.c.allocation_id)))
        .order_by(Allocation.id)
        .limit(MAX_NAMED_ALLOCATIONS)
    ).all()
    return BatchRevoked(request_id, revoked, [tuple(row) for row in named], int(total))  # type: ignore[misc]
