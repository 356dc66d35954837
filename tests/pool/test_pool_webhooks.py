"""The pool's moments as webhook events (docs/product.md#events-signed-webhooks):
each written to the outbox beside its pool_events row, in the same
transaction, for the endpoints subscribed to it, with the allocation as
the API shows it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.pool import tending
from shared.pool.batches import revoke_request
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.pool.conftest import stock_pool, take


def subscribe(client: FlaskClient, tenant: Tenant, *events: str, enabled: bool = True) -> int:
    created = client.post(
        "/api/v1/webhooks", json={"url": "https://93.184.216.34/hooks", "events": list(events)}, headers=tenant.auth
    )
    assert created.status_code == 201, created.get_json()
    endpoint_id: int = created.get_json()["id"]
    if not enabled:
        client.patch(f"/api/v1/webhooks/{endpoint_id}", json={"enabled": False}, headers=tenant.auth)
    return endpoint_id


def outbox(sessions: sessionmaker[Session]) -> list[tuple[str, Any, list[int]]]:
    """Each message: its type, its data and the endpoints it is to be delivered to."""
    with sessions() as session:
        rows = session.execute(
            text("""
                SELECT m.type, m.data, array_agg(d.endpoint_id ORDER BY d.endpoint_id)
                FROM webhook_messages m JOIN webhook_deliveries d ON d.message_id = m.id
                GROUP BY m.id ORDER BY m.id
            """)
        ).all()
    return [(kind, data, list(endpoints)) for kind, data, endpoints in rows]


def test_stock_falling_low_is_sent_to_the_endpoints_subscribed(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    wants = subscribe(client, acme, "stock.low", "upload.completed")
    also = subscribe(client, acme, "stock.low")
    subscribe(client, acme, "upload.completed")
    subscribe(client, acme, "stock.low", enabled=False)
    stock_pool(sessions, 1, 101)

    assert take(client, acme, 1, reference="order-1", quantity=1).status_code == 201
    assert outbox(sessions) == []  # 100 left: not below the threshold yet
    assert take(client, acme, 1, reference="order-2", quantity=1).status_code == 201

    data = {"product_id": 1, "code_type": "activation", "available": 99, "low_stock_threshold": 100}
    assert outbox(sessions) == [("stock.low", data, [wants, also])]


def test_a_batch_revoke_that_takes_the_stock_low_sends_the_same_shape_as_a_take(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    # The take writes stock.low in SQL, a batch revoke through shared.pool.counts
    # in Python: a receiver must get one shape from both.
    acme = make_tenant("acme", (1,))
    endpoint = subscribe(client, acme, "stock.low")
    leaked = queued_request(sessions, acme, txt("1\tA-1"))
    with sessions.begin() as session:
        session.execute(text("UPDATE upload_requests SET status = 'completed' WHERE id = :id"), {"id": leaked})
    stock_pool(sessions, 1, 100, request_id=leaked)
    stock_pool(sessions, 1, 30, request_id=leaked + 1)

    with sessions.begin() as session:
        assert revoke_request(session, acme.publisher_id, leaked).revoked == 100
    revoked = [
        (
            "stock.low",
            {"product_id": 1, "code_type": "activation", "available": 30, "low_stock_threshold": 100},
            [endpoint],
        )
    ]
    assert outbox(sessions) == revoked

    # Back above the threshold, then a take crosses it: the same keys and kinds of value.
    stock_pool(sessions, 1, 75, request_id=leaked + 2)
    assert take(client, acme, 1, reference="order-1", quantity=10).status_code == 201
    by_take = outbox(sessions)[1]
    assert by_take == ("stock.low", revoked[0][1] | {"available": 95}, [endpoint])
    assert {key: type(value) for key, value in by_take[1].items()} == {
        key: type(value) for key, value in revoked[0][1].items()
    }


def test_a_reservation_expired_carries_the_allocation(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    endpoint = subscribe(client, acme, "reservation.expired")
    codes = stock_pool(sessions, 1, 1)
    reserved = take(client, acme, 1, reference="cart-1", mode="reserve").get_json()
    with sessions.begin() as session:
        session.execute(text("UPDATE allocations SET expires_at = now() - interval '1 second'"))

    assert tending.tend(sessions).expired == 1

    ((kind, data, endpoints),) = outbox(sessions)
    shown = client.get(f"/api/v1/allocations/{reserved['id']}", headers=acme.auth).get_json()
    assert (kind, endpoints) == ("reservation.expired", [endpoint])
    assert data == shown
    assert data["status"] == "expired" and [c["code"] for c in data["codes"]] == codes


def test_a_backorder_filled_carries_the_allocation_and_its_codes(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    subscribe(client, acme, "backorder.filled")
    waiting = take(client, acme, 1, reference="order-9", quantity=2, backorder=True)
    assert waiting.status_code == 202
    codes = stock_pool(sessions, 1, 2)

    assert tending.fill_backorders(sessions, acme.publisher_id) == 1

    ((kind, data, _),) = outbox(sessions)
    assert kind == "backorder.filled"
    assert (data["id"], data["status"], data["reference"]) == (waiting.get_json()["id"], "distributed", "order-9")
    assert [c["code"] for c in data["codes"]] == codes


def test_a_publisher_without_endpoints_has_nothing_written(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme, other = make_tenant("acme", (1,)), make_tenant("other", (2,))
    subscribe(client, other, "stock.low")
    stock_pool(sessions, 1, 100)

    assert take(client, acme, 1, reference="order-1").status_code == 201

    assert outbox(sessions) == []
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM pool_events")).scalar_one() == 1
