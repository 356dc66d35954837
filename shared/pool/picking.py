"""The codes a take gets and where they go: the oldest available codes of
a product and type (the oldest request first, in file order within it),
locked with SKIP LOCKED so that concurrent takers pass each other's codes
by instead of waiting for them (docs/architecture.md#the-code-pool).

A code row changes only under its row lock, and only from the status the
statement names: a code is never in two allocations at once, whatever
runs beside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.statuses import CodeStatus


@dataclass(frozen=True)
class PickedCode:
    id: int
    code: str
    expiry_days: int
    build_no: int | None
    seats: int | None


_PICK = text(f"""
SELECT id, code, expiry_days, build_no, seats FROM license_codes
WHERE product_id = :product_id AND code_type = :code_type AND status = '{CodeStatus.AVAILABLE}'
ORDER BY request_id, line_no
LIMIT :quantity
FOR UPDATE SKIP LOCKED
""")

_HAND_OUT = text("""
UPDATE license_codes SET status = :status, allocation_id = :allocation_id WHERE id = ANY(:ids)
""")

_KEEP = text(
    "INSERT INTO allocation_codes (allocation_id, code_id) SELECT :allocation_id, unnest(CAST(:ids AS bigint[]))"
)

_COUNT_DISTRIBUTED = text("""
INSERT INTO hand_out_days AS h (product_id, code_type, day, codes)
VALUES (:product_id, :code_type, CAST(now() AT TIME ZONE 'UTC' AS date), :n)
ON CONFLICT (product_id, code_type, day) DO UPDATE SET codes = h.codes + EXCLUDED.codes
""")


def pick(session: Session, product_id: int, code_type: str, quantity: int) -> Sequence[PickedCode] | None:
    """`quantity` codes locked for this transaction, in the order they leave
    the pool; None when fewer are free (the few locked are let go at the
    transaction's end, untouched)."""
    rows = session.execute(_PICK, {"product_id": product_id, "code_type": code_type, "quantity": quantity}).all()
    if len(rows) < quantity:
        return None
    return [PickedCode(row.id, row.code, row.expiry_days, row.build_no, row.seats) for row in rows]


def hand_out(session: Session, allocation_id: int, codes: Sequence[PickedCode], status: CodeStatus) -> None:
    """The picked codes now belong to the allocation, in `status`."""
    ids = [code.id for code in codes]
    session.execute(_HAND_OUT, {"status": status.value, "allocation_id": allocation_id, "ids": ids})
    session.execute(_KEEP, {"allocation_id": allocation_id, "ids": ids})


def count_distributed(session: Session, product_id: int, code_type: str, n: int) -> None:
    """Codes handed out for good today (UTC): the stock's rate."""
    session.execute(_COUNT_DISTRIBUTED, {"product_id": product_id, "code_type": code_type, "n": n})


def move_held(session: Session, allocation_id: int, held: CodeStatus, to: CodeStatus) -> int:
    """Move the codes the allocation holds in `held` to `to`: back to the
    pool (no longer held by it), or revoked (still held, never to return).
    Returns how many moved."""
    back = to is CodeStatus.AVAILABLE
    moved = session.execute(
        text(
            "UPDATE license_codes SET status = :to"
            + (", allocation_id = NULL" if back else "")
            + " WHERE allocation_id = :allocation_id AND status = :held"
        ),
        {"to": to.value, "allocation_id": allocation_id, "held": held.value},
    )
    return int(moved.rowcount)  # type: ignore[attr-defined]
