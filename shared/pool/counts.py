"""The counts of codes by product, type and status move in the transaction
that moves the codes (docs/architecture.md#maintained-counts), and the
moment the available count falls below the product's threshold is
recorded there, once each time: the row lock on the count orders every
move of it, so exactly one transaction sees each crossing."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.pool import events
from shared.statuses import CodeStatus, PoolEventKind

_ADD = text(
    "INSERT INTO code_counts AS c (product_id, code_type, status, codes) VALUES (:product_id, :code_type, :status, :n) "
    "ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = c.codes + EXCLUDED.codes RETURNING c.codes"
)
# Taking away: the row exists, since the codes do (a CHECK refuses a negative count, even one ON CONFLICT would add).
# It returns the product's threshold too: the row stays locked to the commit, and every take of the
# product waits for it, so a statement saved here is saved from the takes' wait
# (docs/architecture.md#a-take-in-one-statement). A take moves its counts in its own statement
# (shared.pool.take_statement), in the same order.
_TAKE = text(
    "UPDATE code_counts SET codes = codes + :n "
    "WHERE product_id = :product_id AND code_type = :code_type AND status = :status "
    "RETURNING codes, (SELECT low_stock_threshold FROM products WHERE product_id = :product_id) AS threshold"
)


def move(session: Session, product_id: int, code_type: str, changes: Mapping[str, int]) -> dict[str, int]:
    """Add `changes` (status: codes, negative to take away) to the counts;
    return each changed count as it now is. The rows are changed in the
    order of their status, whatever the move, so that two moves of the
    same product never wait on each other in a circle."""
    now: dict[str, int] = {}
    threshold = 0  # the product's, read with the count taken away from (a move takes from one status)
    for status in sorted(changes):
        n = changes[status]
        params = {"product_id": product_id, "code_type": code_type, "status": status, "n": n}
        if n > 0:
            now[status] = int(session.execute(_ADD, params).scalar_one())
        elif n < 0:
            row = session.execute(_TAKE, params).one()
            now[status], threshold = int(row.codes), int(row.threshold)
    taken = -changes.get(CodeStatus.AVAILABLE, 0)
    if taken > 0:
        _note_low_stock(session, product_id, code_type, now[CodeStatus.AVAILABLE], taken, threshold)
    return now


def _note_low_stock(
    session: Session, product_id: int, code_type: str, available: int, taken: int, threshold: int
) -> None:
    if available < threshold <= available + taken:
        events.record(
            session,
            PoolEventKind.STOCK_LOW,
            product_id,
            code_type,
            {
                "product_id": product_id,
                "code_type": code_type,
                "available": available,
                "low_stock_threshold": threshold,
            },
        )
