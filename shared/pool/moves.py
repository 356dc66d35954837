"""The moves of an allocation after its take, each one transaction under
the allocation's row lock (docs/product.md#the-code-pool):

    reserved     → distributed   distribute
    reserved     → released      release: the codes go back to the pool
    backordered  → released      release: the backorder is cancelled
    reserved     → expired       its reservation ran out (the beat, or the
                                 first move to find it overdue)
    reserved, distributed → revoked   revoke: the codes never return

A move that does not apply is refused with the allocation's status. The
row lock orders the moves of one allocation, so of an expiry and a
distribute that race, exactly one happens: the second finds the status
the first left."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.errors import MoveRefused
from shared.models import Allocation
from shared.pool import counts, events, picking
from shared.pool.allocations import allocation_of
from shared.statuses import AllocationStatus, CodeStatus, PoolEventKind

_OVERDUE = text(f"""
SELECT id FROM allocations
WHERE status = '{AllocationStatus.RESERVED}' AND expires_at <= now()
ORDER BY expires_at LIMIT :batch
FOR UPDATE SKIP LOCKED
""")
# The statuses each move applies to: the moves check them, the screens
# offer a move's button only on the allocations it applies to.
MOVES_FROM: dict[str, tuple[AllocationStatus, ...]] = {
    "distribute": (AllocationStatus.RESERVED,),
    "release": (AllocationStatus.RESERVED, AllocationStatus.BACKORDERED),
    "revoke": (AllocationStatus.RESERVED, AllocationStatus.DISTRIBUTED),
}
# Reservations expired by one transaction of the beat: short, so a take
# of the same product never waits long behind it.
EXPIRE_BATCH = 200


def distribute(session: Session, publisher_id: int, allocation_id: int) -> Allocation:
    allocation = _locked_in(session, publisher_id, allocation_id, "distribute")
    moved = picking.move_held(session, allocation.id, CodeStatus.RESERVED, CodeStatus.DISTRIBUTED)
    counts.move(
        session,
        allocation.product_id,
        allocation.code_type,
        {CodeStatus.RESERVED: -moved, CodeStatus.DISTRIBUTED: moved},
    )
    picking.count_distributed(session, allocation.product_id, allocation.code_type, moved)
    _set_status(session, allocation, AllocationStatus.DISTRIBUTED, "distributed_at")
    return allocation


def release(session: Session, publisher_id: int, allocation_id: int) -> Allocation:
    allocation = _locked_in(session, publisher_id, allocation_id, "release")
    if allocation.status == AllocationStatus.RESERVED:
        _back_to_pool(session, allocation)
    _set_status(session, allocation, AllocationStatus.RELEASED, "released_at")
    return allocation


def revoke(session: Session, publisher_id: int, allocation_id: int) -> Allocation:
    allocation = _locked_in(session, publisher_id, allocation_id, "revoke")
    held = CodeStatus(allocation.status)  # the codes' status is the allocation's
    moved = picking.move_held(session, allocation.id, held, CodeStatus.REVOKED)
    counts.move(session, allocation.product_id, allocation.code_type, {held: -moved, CodeStatus.REVOKED: moved})
    _set_status(session, allocation, AllocationStatus.REVOKED, "revoked_at")
    return allocation


def expire_overdue(session: Session) -> list[Allocation]:
    """Expire up to EXPIRE_BATCH reservations past their end, the soonest
    first. Reservations another transaction holds (a distribute in
    progress) are passed by: that move decides them."""
    ids: Sequence[int] = session.scalars(_OVERDUE, {"batch": EXPIRE_BATCH}).all()
    expired = [session.get_one(Allocation, allocation_id) for allocation_id in ids]
    for allocation in expired:
        _expire(session, allocation)
    return expired


def moves_of(status: str) -> list[str]:
    """The moves that apply to an allocation in `status`, in MOVES_FROM's order."""
    return [move for move, allowed in MOVES_FROM.items() if status in allowed]


def _locked_in(session: Session, publisher_id: int, allocation_id: int, move: str) -> Allocation:
    """The allocation, locked, in one of the statuses the move applies to.
    A reservation found past its end is expired first, in this same
    transaction, and the move refused: the caller commits the expiry."""
    allowed = MOVES_FROM[move]
    allocation = allocation_of(session, publisher_id, allocation_id, lock=True)
    if (
        allocation.status == AllocationStatus.RESERVED
        and session.execute(
            text("SELECT expires_at <= now() FROM allocations WHERE id = :id"), {"id": allocation.id}
        ).scalar_one()
    ):
        _expire(session, allocation)
    if allocation.status not in allowed:
        can = " or ".join(status.value for status in allowed)
        done = {"distribute": "distributed", "release": "released", "revoke": "revoked"}[move]
        raise MoveRefused(f"allocation {allocation.id} is {allocation.status}; only a {can} allocation can be {done}")
    return allocation


def _expire(session: Session, allocation: Allocation) -> None:
    _back_to_pool(session, allocation)
    _set_status(session, allocation, AllocationStatus.EXPIRED, "expired_at")
    events.record(
        session,
        PoolEventKind.RESERVATION_EXPIRED,
        allocation.product_id,
        allocation.code_type,
        {"allocation_id": allocation.id, "reference": allocation.reference, "quantity": allocation.quantity},
        allocation_id=allocation.id,
    )


def _back_to_pool(session: Session, allocation: Allocation) -> None:
    moved = picking.move_held(session, allocation.id, CodeStatus.RESERVED, CodeStatus.AVAILABLE)
    counts.move(
        session, allocation.product_id, allocation.code_type, {CodeStatus.RESERVED: -moved, CodeStatus.AVAILABLE: moved}
    )


def _set_status(session: Session, allocation: Allocation, status: AllocationStatus, moment: str) -> None:
    session.execute(
        text(f"UPDATE allocations SET status = :status, {moment} = now(), expires_at = NULL WHERE id = :id"),
        {"status": status.value, "id": allocation.id},
    )
    session.refresh(allocation)
