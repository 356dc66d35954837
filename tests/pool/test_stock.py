"""A product's stock: counts by status, the rate of the last 7 days, days
left, low stock, and the moment it falls low recorded once each time."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from shared.models import Product
from shared.pool.stock import stock_of, stocks_of_products
from tests.conftest import Tenant
from tests.pool.conftest import move, stock, stock_pool, take


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def _threshold(sessions: sessionmaker[Session], threshold: int) -> None:
    with sessions.begin() as session:
        session.execute(text("UPDATE products SET low_stock_threshold = :t WHERE product_id = 1"), {"t": threshold})


def _low_moments(sessions: sessionmaker[Session]) -> list[dict[str, Any]]:
    with sessions() as session:
        return [
            row[0] for row in session.execute(text("SELECT data FROM pool_events WHERE kind = 'stock.low' ORDER BY id"))
        ]


def test_the_stock_counts_each_status_and_type(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 10)
    stock_pool(sessions, 1, 4, code_type="evaluation", request_id=2)
    take(client, acme, 1, reference="o-1", quantity=2)
    take(client, acme, 1, reference="c-1", quantity=3, mode="reserve")
    revoked = take(client, acme, 1, reference="o-2").get_json()["id"]
    move(client, acme, revoked, "revoke")
    take(client, acme, 1, reference="t-1", code_type="evaluation")
    body = client.get("/api/v1/products/1/stock", headers=acme.auth).get_json()
    assert body["product_id"] == 1 and body["low_stock_threshold"] == 100
    activation, evaluation = body["activation"], body["evaluation"]
    assert {k: activation[k] for k in ("available", "reserved", "distributed", "revoked")} == {
        "available": 4, "reserved": 3, "distributed": 2, "revoked": 1,
    }  # fmt: skip
    assert (activation["handed_out_last_7_days"], evaluation["handed_out_last_7_days"]) == (3, 1)
    assert (evaluation["available"], evaluation["distributed"]) == (3, 1)
    assert activation["low"] is True
    # A product, alone or listed, carries the same stock.
    assert client.get("/api/v1/products/1", headers=acme.auth).get_json()["stock"] == {
        "activation": activation, "evaluation": evaluation,
    }  # fmt: skip
    assert client.get("/api/v1/products", headers=acme.auth).get_json()["items"][0]["stock"]["activation"] == activation


def test_days_left_divides_the_available_codes_by_the_last_seven_days_rate(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 100)
    assert stock(client, acme, 1)["days_left"] is None
    take(client, acme, 1, reference="o-1", quantity=7)
    # 93 left at 7 codes a week, one a day; hand-outs older than 7 days do not count.
    with sessions.begin() as session:
        session.execute(
            text("INSERT INTO hand_out_days VALUES (1, 'activation', CAST(now() AT TIME ZONE 'UTC' AS date) - 7, 500)")
        )
    now = stock(client, acme, 1)
    assert (now["handed_out_last_7_days"], now["days_left"]) == (7, 93.0)


def test_falling_below_the_threshold_is_recorded_once_each_time(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    _threshold(sessions, 5)
    stock_pool(sessions, 1, 7)
    take(client, acme, 1, reference="o-1")  # 6 left
    assert _low_moments(sessions) == [] and stock(client, acme, 1)["low"] is False
    take(client, acme, 1, reference="o-2", quantity=2)  # 4: below 5
    take(client, acme, 1, reference="o-3")  # 3: still below, nothing new
    assert _low_moments(sessions) == [
        {"product_id": 1, "code_type": "activation", "available": 4, "low_stock_threshold": 5}
    ]
    assert stock(client, acme, 1)["low"] is True
    stock_pool(sessions, 1, 10, request_id=2)  # 13
    take(client, acme, 1, reference="o-4", quantity=9)  # 4 again: a second time
    assert [moment["available"] for moment in _low_moments(sessions)] == [4, 4]


def test_a_threshold_of_zero_is_never_low(client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant) -> None:
    _threshold(sessions, 0)
    stock_pool(sessions, 1, 1)
    take(client, acme, 1, reference="o-1")
    assert stock(client, acme, 1)["low"] is False and _low_moments(sessions) == []


def test_the_stock_of_several_products_is_each_ones_own(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1, 2, 3))
    stock_pool(sessions, 1, 6)
    stock_pool(sessions, 2, 3, code_type="evaluation", request_id=2)
    take(client, acme, 1, reference="o-1", quantity=2)
    take(client, acme, 2, reference="o-1", code_type="evaluation")
    take(client, acme, 3, reference="later", quantity=4, backorder=True)
    with sessions() as session:
        products = session.scalars(select(Product).order_by(Product.product_id)).all()
        together = stocks_of_products(session, products)
        assert together == {product.product_id: stock_of(session, product) for product in products}
    assert together[1]["activation"].by_status["distributed"] == 2
    assert together[1]["activation"].handed_out_last_7_days == 2
    assert together[2]["evaluation"].available == 2 and together[2]["activation"].available == 0
    assert (together[3]["activation"].backordered, together[3]["activation"].backorders) == (4, 1)
    held = {(p, t) for p, types in together.items() for t, one in types.items() if one.held}
    assert held == {(1, "activation"), (2, "evaluation"), (3, "activation")}
