"""The moves of an allocation: distribute, release, revoke, expire, and
every move that does not apply refused with the allocation's status."""

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


def _reserve(client: FlaskClient, acme: Tenant, reference: str, quantity: int = 1) -> dict[str, Any]:
    response = take(client, acme, 1, reference=reference, quantity=quantity, mode="reserve")
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _overdue(sessions: sessionmaker[Session], allocation_id: int) -> None:
    """The reservation's end a second ago (as if its minutes had passed)."""
    with sessions.begin() as session:
        session.execute(
            text("UPDATE allocations SET expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": allocation_id},
        )


def _events(sessions: sessionmaker[Session], kind: str) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.execute(text("SELECT data FROM pool_events WHERE kind = :kind ORDER BY id"), {"kind": kind})
        return [row[0] for row in rows]


def test_distributing_a_reservation_hands_its_codes_out_for_good(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 3)
    reserved = _reserve(client, acme, "cart-1", 2)
    distributed = move(client, acme, reserved["id"], "distribute")
    assert distributed.status_code == 200
    body = distributed.get_json()
    assert body["status"] == "distributed" and body["distributed_at"] and body["expires_at"] is None
    assert codes_of(distributed) == [c["code"] for c in reserved["codes"]]
    now = stock(client, acme, 1)
    assert (now["available"], now["reserved"], now["distributed"], now["handed_out_last_7_days"]) == (1, 0, 2, 2)
    assert_counts_are_exact(sessions)


def test_a_released_reservations_codes_go_back_to_the_pool_and_leave_it_first_again(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    codes = stock_pool(sessions, 1, 3)
    reserved = _reserve(client, acme, "cart-1", 2)
    released = move(client, acme, reserved["id"], "release")
    assert released.status_code == 200 and released.get_json()["status"] == "released"
    # The allocation still shows what it held; the pool has them back, in their old place.
    assert codes_of(released) == codes[:2]
    assert stock(client, acme, 1)["available"] == 3
    assert codes_of(take(client, acme, 1, reference="order-2", quantity=3)) == codes
    assert_counts_are_exact(sessions)


def test_revoked_codes_never_return_to_the_pool(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    codes = stock_pool(sessions, 1, 3)
    distributed = take(client, acme, 1, reference="order-1").get_json()
    reserved = _reserve(client, acme, "cart-1")
    for allocation in (distributed, reserved):
        revoked = move(client, acme, allocation["id"], "revoke")
        assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert codes_of(take(client, acme, 1, reference="order-2")) == [codes[2]]
    assert take(client, acme, 1, reference="order-3").get_json()["error"]["code"] == "pool_empty"
    now = stock(client, acme, 1)
    assert (now["available"], now["revoked"], now["distributed"]) == (0, 2, 1)
    assert_counts_are_exact(sessions)


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("distribute", "release", "distributed"),
        ("distribute", "distribute", "distributed"),
        ("release", "distribute", "released"),
        ("release", "revoke", "released"),
        ("revoke", "distribute", "revoked"),
        ("revoke", "release", "revoked"),
        ("revoke", "revoke", "revoked"),
    ],
)
def test_a_move_that_does_not_apply_is_a_409_naming_the_status(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant, first: str, then: str, status: str
) -> None:
    stock_pool(sessions, 1, 2)
    allocation_id = _reserve(client, acme, "cart-1")["id"]
    assert move(client, acme, allocation_id, first).status_code == 200
    refused = move(client, acme, allocation_id, then)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_status"
    assert f"allocation {allocation_id} is {status}" in error["message"]
    assert_counts_are_exact(sessions)


def test_a_reservation_found_past_its_end_is_expired_and_the_move_refused(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 1)
    allocation_id = _reserve(client, acme, "cart-1")["id"]
    _overdue(sessions, allocation_id)
    refused = move(client, acme, allocation_id, "distribute")
    assert refused.status_code == 409
    assert f"allocation {allocation_id} is expired" in refused.get_json()["error"]["message"]
    expired = client.get(f"/api/v1/allocations/{allocation_id}", headers=acme.auth).get_json()
    assert expired["status"] == "expired" and expired["expired_at"] is not None
    assert stock(client, acme, 1)["available"] == 1
    assert _events(sessions, "reservation.expired") == [
        {"allocation_id": allocation_id, "reference": "cart-1", "quantity": 1}
    ]
    assert_counts_are_exact(sessions)


def test_tending_the_pool_expires_the_reservations_past_their_end_and_no_others(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    stock_pool(sessions, 1, 4)
    overdue = [_reserve(client, acme, f"cart-{n}")["id"] for n in range(3)]
    running = _reserve(client, acme, "cart-running")["id"]
    for allocation_id in overdue:
        _overdue(sessions, allocation_id)
    tended = tending.tend(sessions)
    assert tended.expired == 3
    statuses = {
        allocation_id: client.get(f"/api/v1/allocations/{allocation_id}", headers=acme.auth).get_json()["status"]
        for allocation_id in [*overdue, running]
    }
    assert statuses == {**dict.fromkeys(overdue, "expired"), running: "reserved"}
    assert stock(client, acme, 1)["available"] == 3
    assert tending.tend(sessions).expired == 0
    assert_counts_are_exact(sessions)
