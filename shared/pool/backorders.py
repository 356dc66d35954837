"""Backorders: allocations that wait, in the order they were made, until
the pool holds enough codes for each in full (docs/product.md#the-code-pool).

Codes become available when a request completes, a reservation is released
or expires. Whoever made them available fills the backorders right after
its commit; the beat (shared.pool.tending) fills whatever a crash between
the two left waiting. One filler at a time per product and type, under a
transaction-level advisory lock: the second waits, then sees what the
first left, so the backorders are filled strictly in order."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.models import CODE_TYPES, Allocation, Product
from shared.pool import events, picking
from shared.pool.allocations import fill
from shared.statuses import AllocationStatus, PoolEventKind

# The advisory lock's first key: one space of keys per code type, far from
# any other lock of the program (there is none today).
_LOCK_SPACE = {code_type: 0x6C630000 + number for number, code_type in enumerate(CODE_TYPES)}
# Backorders filled by one transaction: a long queue is filled in several.
FILL_BATCH = 100


def fill_waiting(session: Session, product_id: int, code_type: str) -> list[Allocation]:
    """Fill the product's backorders of this type, oldest first, each in
    full, until one cannot be: it and all after it keep waiting. Returns
    those filled; the caller commits."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:space, hashint8(:product_id))"),
        {"space": _LOCK_SPACE[code_type], "product_id": product_id},
    )
    filled: list[Allocation] = []
    while len(filled) < FILL_BATCH:
        head = session.scalars(
            select(Allocation)
            .where(
                Allocation.product_id == product_id,
                Allocation.code_type == code_type,
                Allocation.status == AllocationStatus.BACKORDERED,
            )
            .order_by(Allocation.id)
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if head is None:
            break
        picked = picking.pick(session, product_id, code_type, head.quantity)
        if picked is None:
            break
        fill(session, head, picked)
        events.record(
            session,
            PoolEventKind.BACKORDER_FILLED,
            product_id,
            code_type,
            {"allocation_id": head.id, "reference": head.reference, "quantity": head.quantity, "status": head.status},
            allocation_id=head.id,
        )
        filled.append(head)
    return filled


def waiting_pools(session: Session, publisher_id: int | None = None) -> list[tuple[int, str]]:
    """The (product, code type) pairs with backorders waiting: all, or of this publisher's products."""
    query = (
        select(Allocation.product_id, Allocation.code_type)
        .where(Allocation.status == AllocationStatus.BACKORDERED)
        .distinct()
        .order_by(Allocation.product_id, Allocation.code_type)
    )
    if publisher_id is not None:
        query = query.join(Product, Product.product_id == Allocation.product_id).where(
            Product.publisher_id == publisher_id
        )
    return [(product_id, code_type) for product_id, code_type in session.execute(query)]
