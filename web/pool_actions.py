"""What the API and the screens do to the code pool, written once: take
codes for a reference, move an allocation, revoke what is left of a leaked
batch. Each commits its own transaction, then fills the publisher's waiting
backorders when that commit may have made codes available
(docs/architecture.md#the-code-pool): filling is its own transactions, so
it can only start once the codes are committed."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from shared.errors import DomainError, MoveRefused
from shared.models import Allocation, Product
from shared.pool import batches, tending
from shared.pool.allocations import Ask, Taken, take
from shared.pool.batches import BatchRevoked
from shared.statuses import AllocationStatus
from web.database import db

Move = Callable[[Session, int, int], Allocation]
# After these, the allocation's codes are back in the pool.
_CODES_RETURNED = (AllocationStatus.RELEASED, AllocationStatus.EXPIRED)


def take_codes(publisher_id: int, product: Product, ask: Ask) -> Taken:
    """Take codes for `ask.reference` (or replay its allocation). A refused
    take (the pool too small, the reference taken) is rolled back at once:
    its allocation row must not linger in the session a screen goes on to
    read."""
    try:
        taken = take(db(), product, ask)
    except DomainError:
        db().rollback()
        raise
    db().commit()
    if taken.allocation.status == AllocationStatus.BACKORDERED and not taken.replayed:
        # Codes may have come since the pool was read: filled now, the caller sees them.
        fill_backorders(publisher_id)
        db().refresh(taken.allocation)
    return taken


def move(move: Move, publisher_id: int, allocation_id: int) -> Allocation:
    """Distribute, release or revoke (shared.pool.moves) the allocation."""
    try:
        allocation = move(db(), publisher_id, allocation_id)
    except MoveRefused:
        # A reservation found past its end was expired by the move: keep that.
        db().commit()
        fill_backorders(publisher_id)
        raise
    db().commit()
    if allocation.status in _CODES_RETURNED:
        fill_backorders(publisher_id)
    return allocation


def revoke_batch(publisher_id: int, request_id: int) -> BatchRevoked:
    """Revoke every code of the completed request still in the pool."""
    done = batches.revoke_request(db(), publisher_id, request_id)
    db().commit()
    return done


def fill_backorders(publisher_id: int) -> None:
    tending.fill_backorders(current_app.extensions["licensecodes.sessions"], publisher_id)
