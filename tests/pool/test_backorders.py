"""Backorders: waiting in the order they were made, each filled in full
when codes arrive, then following their mode."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.pool import tending
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact
from tests.pool.conftest import codes_of, move, stock, stock_pool, take


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def _backorder(client: FlaskClient, acme: Tenant, reference: str, quantity: int, **asked: Any) -> int:
    response = take(client, acme, 1, reference=reference, quantity=quantity, backorder=True, **asked)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "backordered" and body["codes"] == []
    return int(body["id"])


def _allocation(client: FlaskClient, acme: Tenant, allocation_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/allocations/{allocation_id}", headers=acme.auth).get_json()
    return body


def test_backorders_are_filled_in_the_order_they_were_made_each_in_full(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    first = _backorder(client, acme, "order-1", 3)
    second = _backorder(client, acme, "order-2", 1)
    waiting = stock(client, acme, 1)
    assert (waiting["backordered"], waiting["backorders"]) == (4, 2)
    # Two codes: not enough for the first, and the second waits behind it.
    stock_pool(sessions, 1, 2, request_id=1)
    assert tending.fill_backorders(sessions) == 0
    assert _allocation(client, acme, second)["status"] == "backordered"
    codes = stock_pool(sessions, 1, 2, request_id=2)
    assert tending.fill_backorders(sessions) == 2
    filled_first, filled_second = _allocation(client, acme, first), _allocation(client, acme, second)
    assert filled_first["status"] == filled_second["status"] == "distributed"
    assert len(filled_first["codes"]) == 3 and [c["code"] for c in filled_second["codes"]] == [codes[1]]
    assert stock(client, acme, 1)["backordered"] == 0
    with sessions() as session:
        filled = session.execute(
            text("SELECT allocation_id FROM pool_events WHERE kind = 'backorder.filled' ORDER BY id")
        )
        assert [row[0] for row in filled] == [first, second]
    assert_counts_are_exact(sessions)


def test_a_take_waits_behind_earlier_backorders_even_when_codes_are_there(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 2)
    _backorder(client, acme, "order-big", 5)
    refused = take(client, acme, 1, reference="order-small")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "pool_empty"
    assert "earlier backorders are waiting" in refused.get_json()["error"]["message"]
    queued = _backorder(client, acme, "order-small-2", 1)
    assert _allocation(client, acme, queued)["status"] == "backordered"


def test_a_backorder_that_codes_are_already_there_for_is_filled_at_once(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 2)
    taken = take(client, acme, 1, reference="order-1", quantity=2, backorder=True)
    assert taken.status_code == 201 and taken.get_json()["status"] == "distributed"


def test_a_filled_reserve_backorder_holds_its_codes_from_when_it_was_filled(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    allocation_id = _backorder(client, acme, "cart-1", 1, mode="reserve", reservation_minutes=10)
    stock_pool(sessions, 1, 1)
    tending.fill_backorders(sessions)
    with sessions() as session:
        minutes = session.execute(
            text("SELECT extract(epoch FROM expires_at - filled_at) / 60 FROM allocations WHERE id = :id"),
            {"id": allocation_id},
        ).scalar_one()
    assert _allocation(client, acme, allocation_id)["status"] == "reserved" and minutes == 10
    assert stock(client, acme, 1)["reserved"] == 1


def test_codes_released_by_a_reservation_fill_a_waiting_backorder_right_away(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    codes = stock_pool(sessions, 1, 1)
    reserved = take(client, acme, 1, reference="cart-1", mode="reserve").get_json()
    waiting = _backorder(client, acme, "order-2", 1)
    assert move(client, acme, reserved["id"], "release").status_code == 200
    filled = _allocation(client, acme, waiting)
    assert filled["status"] == "distributed" and [c["code"] for c in filled["codes"]] == codes
    assert_counts_are_exact(sessions)


def test_releasing_a_backorder_cancels_it(client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant) -> None:
    allocation_id = _backorder(client, acme, "order-1", 1)
    released = move(client, acme, allocation_id, "release")
    assert released.status_code == 200 and released.get_json()["status"] == "released"
    stock_pool(sessions, 1, 1)
    assert tending.fill_backorders(sessions) == 0
    assert codes_of(released) == [] and stock(client, acme, 1)["available"] == 1
