"""Two transactions creating the same name at once: the database decides,
one succeeds and the other gets Conflict (a clear message, not a 500)."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, sessionmaker

from shared.errors import AlreadyTaken, Conflict
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
    assert isinstance(error, AlreadyTaken)
    assert str(error) == "the product id 77 is already taken on this server; choose another"


def test_a_short_code_taken_by_a_concurrent_transaction_is_the_same_conflict_naming_no_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        one, other = create_publisher(session, "One Ltd"), create_publisher(session, "Other Ltd")
    attempts = iter([(one, 81), (other, 82)])

    def create(session: Session) -> None:
        owner, product_id = next(attempts)
        create_product(session, owner, NewProduct(product_id, "eighty", "Eighty"))

    error = race(sessions, create)
    assert isinstance(error, AlreadyTaken)
    assert (error.code, str(error)) == (
        "short_code_taken",
        "the short code 'eighty' is already taken on this server; choose another",
    )
