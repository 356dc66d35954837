"""A leaked batch: every code of a completed request still in the pool is
revoked in one transaction, and the allocations already holding codes of
that request are named, so the publisher can act on them
(docs/product.md#the-code-pool)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.errors import Conflict
from shared.models import CODE_STATUSES, Allocation, LicenseCode, UploadRequest
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


_BY_STATUS = text("SELECT status, count(*) FROM license_codes WHERE request_id = :request_id GROUP BY status")


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
    refusal = why_not_revocable(upload_of(session, publisher_id, request_id))
    if refusal:
        raise Conflict(refusal)
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


def why_not_revocable(request: UploadRequest) -> str | None:
    """Why the request has no codes to revoke, or None: only a completed
    upload that was not a dry run stored any."""
    if request.status != RequestStatus.COMPLETED or request.dry_run:
        what = "dry run" if request.dry_run else "upload"
        return f"{what} {request.id} is {request.status}; only the codes of a completed upload can be revoked"
    return None


def codes_by_status(session: Session, request_id: int) -> dict[str, int]:
    """How many of the request's codes are in each status (every status,
    zero when none). One grouped count by the index on request_id: it reads
    every code of the request, a few million at most, so a page shows it
    once, not on every refresh."""
    counted = dict.fromkeys(CODE_STATUSES, 0)
    for row in session.execute(_BY_STATUS, {"request_id": request_id}):
        counted[str(row[0])] = int(row[1])
    return counted
