"""Two transactions creating the same name at once: the database decides,
one succeeds and the other gets Conflict (a clear message, not a 500)."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from shared.errors import Conflict
from shared.products import NewProduct, create_product
from shared.tenants import create_publisher


def race(sessions: sessionmaker[Session], create) -> BaseException | None:  # type: ignore[no-untyped-def]
    """The first transaction inserts and holds its row uncommitted while the
    second inserts the same (and blocks on the unique index); then the first
    commits. Answer what the second raised."""
    outcome: list[BaseException | None] = []
    first = sessions()
    create(first)

    def second() -> None:
        try:
            with sessions.begin() as session:
                create(session)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive(), "the second insert did not wait for the first transaction"
    first.commit()
    first.close()
    thread.join(timeout=30)
    return outcome[0]


def test_a_publisher_name_taken_by_a_concurrent_transaction_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    error = race(sessions, lambda session: create_publisher(session, "Racing Ltd"))
    assert isinstance(error, Conflict)
    assert str(error) == "a publisher named 'Racing Ltd' already exists"


def test_a_product_id_taken_by_a_concurrent_transaction_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        one, other = create_publisher(session, "one"), create_publisher(session, "other")
    owners = iter([one, other])
    error = race(sessions, lambda session: create_product(session, next(owners), NewProduct(77, "seventy", "Seven")))
    assert isinstance(error, Conflict)
    assert "product id 77 is already taken" in str(error)
