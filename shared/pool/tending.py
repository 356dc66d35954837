"""What keeps the pool moving with no one asking: reservations past their
end expire, and backorders are filled when codes are there for them. The
beat runs `tend` often (POOL_TEND_SECONDS), so a reservation expires within
a minute of its end; whoever makes codes available also calls
`fill_backorders` right after its commit, so a backorder rarely waits for
the beat (docs/architecture.md#the-code-pool)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from shared.pool.backorders import FILL_BATCH, fill_waiting, waiting_pools
from shared.pool.moves import EXPIRE_BATCH, expire_overdue


@dataclass(frozen=True)
class Tended:
    expired: int
    filled: int


def tend(sessions: sessionmaker[Session]) -> Tended:
    expired = 0
    while True:
        with sessions.begin() as session:
            batch = len(expire_overdue(session))
        expired += batch
        if batch < EXPIRE_BATCH:
            break
    return Tended(expired, fill_backorders(sessions))


def fill_backorders(sessions: sessionmaker[Session], publisher_id: int | None = None) -> int:
    """Fill what backorders can be filled, of this publisher's products or
    of all; each product and type in transactions of its own. Returns how many."""
    with sessions() as session:
        pools = waiting_pools(session, publisher_id)
    filled = 0
    for product_id, code_type in pools:
        while True:
            with sessions.begin() as session:
                batch = len(fill_waiting(session, product_id, code_type))
            filled += batch
            if batch < FILL_BATCH:
                break
    return filled
