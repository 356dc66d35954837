"""Races of the code pool (docs/architecture.md#the-code-pool), each run
for many trials on the real PostgreSQL: real threads lined up on a
barrier, each with its own client or session.

- Many takers draining one pool: every code handed out once, exactly as
  many takes succeed as there were codes, the counts exact.
- The same reference sent at once: one allocation, its codes returned to
  every call.
- Takers crossing the low-stock threshold at once: the moment recorded once.
- A reservation's expiry against its distribute: exactly one happens.
- Two fillers of the same backorders at once: each filled once, in order.

A batch revoke against takes, which needs a real upload, is raced in
tests/pipeline/test_pool.py.

Each test prints what it saw (`pytest -s`), for the record.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.errors import MoveRefused
from shared.models import Product
from shared.pool import moves, tending
from shared.pool.allocations import Ask, take
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, at_once
from tests.pool.conftest import assert_no_code_twice, stock_pool

TAKERS = 16
POOL = 400
SAME_REFERENCE_TRIALS = 60
CALLS_AT_ONCE = 4
EXPIRY_TRIALS = 80
FILL_TRIALS = 30
LOW_TRIALS = 30


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def test_many_takers_draining_one_pool_hand_out_every_code_once(
    app: Flask, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    codes = set(stock_pool(sessions, 1, POOL))
    got: list[str] = []
    empty: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(TAKERS)

    def taker(number: int) -> None:
        client = app.test_client()
        start.wait()
        for n in range(POOL):
            response = client.post(
                "/api/v1/products/1/allocations", json={"reference": f"t{number}-{n}"}, headers=acme.auth
            )
            if response.status_code == 409:
                assert response.get_json()["error"]["code"] == "pool_empty"
                with lock:
                    empty.append(number)
                return
            assert response.status_code == 201, response.get_json()
            with lock:
                got.extend(code["code"] for code in response.get_json()["codes"])

    threads = [threading.Thread(target=taker, args=(n,)) for n in range(TAKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"\n{TAKERS} takers: {len(got)} codes taken from a pool of {POOL}, {len(empty)} found it empty")
    assert len(got) == POOL and set(got) == codes  # every code once, none twice
    assert len(empty) == TAKERS
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)


def test_takers_crossing_the_low_stock_threshold_at_once_record_the_moment_once(
    app: Flask, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    # Each trial: 12 codes arrive, 16 takers at once take one each, so the
    # count goes 12 to 0 and falls below the threshold of 6 once, at 5.
    with sessions.begin() as session:
        session.execute(text("UPDATE products SET low_stock_threshold = 6 WHERE product_id = 1"))
    statuses: Counter[int] = Counter()
    for trial in range(LOW_TRIALS):
        stock_pool(sessions, 1, 12, request_id=trial + 1)
        clients = [app.test_client() for _ in range(TAKERS)]
        responses: list[Any] = at_once(
            *(
                lambda c=c, n=n, trial=trial: c.post(
                    "/api/v1/products/1/allocations", json={"reference": f"low-{trial}-{n}"}, headers=acme.auth
                )
                for n, c in enumerate(clients)
            )
        )
        statuses.update(response.status_code for response in responses)
        assert sorted(response.status_code for response in responses) == [201] * 12 + [409] * 4
    with sessions() as session:
        moments = session.execute(text("SELECT data FROM pool_events WHERE kind = 'stock.low' ORDER BY id")).all()
    print(f"\n{LOW_TRIALS} trials of {TAKERS} takers across the threshold: {dict(statuses)}, {len(moments)} moments")
    assert [row.data["available"] for row in moments] == [5] * LOW_TRIALS
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)


def test_the_same_reference_sent_at_once_makes_one_allocation(
    app: Flask, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, SAME_REFERENCE_TRIALS * 2)
    statuses: Counter[int] = Counter()
    for trial in range(SAME_REFERENCE_TRIALS):
        clients = [app.test_client() for _ in range(CALLS_AT_ONCE)]

        def call(client: Any = None, trial: int = trial) -> Any:
            return client.post(
                "/api/v1/products/1/allocations", json={"reference": f"order-{trial}", "quantity": 2}, headers=acme.auth
            )

        responses: list[Any] = at_once(*(lambda c=c: call(c) for c in clients))
        statuses.update(response.status_code for response in responses)
        bodies = [response.get_json() for response in responses]
        assert sorted(response.status_code for response in responses) == [200] * (CALLS_AT_ONCE - 1) + [201]
        assert all(body == bodies[0] for body in bodies)
    print(f"\n{SAME_REFERENCE_TRIALS} trials of {CALLS_AT_ONCE} calls at once: {dict(statuses)}")
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM allocations")).scalar_one() == SAME_REFERENCE_TRIALS
        assert session.execute(text("SELECT count(*) FROM license_codes WHERE status = 'available'")).scalar_one() == 0
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)


def test_of_an_expiry_and_a_distribute_that_race_exactly_one_happens(
    sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 1)
    outcomes: Counter[str] = Counter()
    for trial in range(EXPIRY_TRIALS):
        with sessions.begin() as session:
            product = session.get_one(Product, 1)
            allocation = take(session, product, Ask(f"cart-{trial}", mode="reserve")).allocation
            # Its end in a few milliseconds, either side of the moment both moves start.
            session.execute(
                text("UPDATE allocations SET expires_at = now() + make_interval(secs => :s) WHERE id = :id"),
                {"s": random.uniform(-0.005, 0.02), "id": allocation.id},
            )
        allocation_id = allocation.id

        def distribute(allocation_id: int = allocation_id) -> str:
            with sessions() as session:
                try:
                    moves.distribute(session, acme.publisher_id, allocation_id)
                    result = "distributed"
                except MoveRefused:
                    result = "refused"
                session.commit()
                return result

        def expire() -> int:
            return tending.tend(sessions).expired

        time.sleep(0.005)
        distributed, expired = at_once(distribute, expire)
        with sessions() as session:
            status = session.execute(
                text("SELECT status FROM allocations WHERE id = :id"), {"id": allocation_id}
            ).scalar_one()
        if status == "distributed":
            assert (distributed, expired) == ("distributed", 0)
        else:
            assert status == "expired" and distributed == "refused"
        outcomes[status] += 1
        # The code goes back for the next trial.
        if status == "distributed":
            with sessions.begin() as session:
                moves.revoke(session, acme.publisher_id, allocation_id)
            stock_pool(sessions, 1, 1, request_id=trial + 2)
        assert_counts_are_exact(sessions)
    print(f"\n{EXPIRY_TRIALS} races of an expiry and a distribute: {dict(outcomes)}")
    assert_no_code_twice(sessions)


def test_two_fillers_at_once_fill_each_backorder_once_and_in_order(
    sessions: sessionmaker[Session], acme: Tenant
) -> None:
    quantities = [1, 2, 1, 3, 1]
    made = 0
    for trial in range(FILL_TRIALS):
        with sessions.begin() as session:
            product = session.get_one(Product, 1)
            ids = [
                take(session, product, Ask(f"t{trial}-{n}", quantity=q, backorder=True)).allocation.id
                for n, q in enumerate(quantities)
            ]
        stock_pool(sessions, 1, sum(quantities), request_id=trial + 1)
        filled = at_once(lambda: tending.fill_backorders(sessions), lambda: tending.fill_backorders(sessions))
        assert sum(filled) == len(quantities)  # type: ignore[arg-type]
        with sessions() as session:
            order = (
                session.execute(
                    text("SELECT allocation_id FROM pool_events WHERE kind = 'backorder.filled' ORDER BY id OFFSET :n"),
                    {"n": made},
                )
                .scalars()
                .all()
            )
            held = dict(
                session.execute(
                    text(
                        "SELECT allocation_id, count(*) FROM license_codes WHERE allocation_id = ANY(:ids) GROUP BY 1"
                    ),
                    {"ids": ids},
                ).all()
            )
        assert list(order) == ids
        assert held == dict(zip(ids, quantities, strict=True))
        made += len(ids)
    print(f"\n{FILL_TRIALS} trials of two fillers at once: every backorder filled once, in order")
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)
