"""Taking codes through the API: oldest first, all or nothing, the same
reference replayed, and every bad field named."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.pipeline.conftest import assert_counts_are_exact
from tests.pool.conftest import codes_of, stock, stock_pool, take


def test_a_take_hands_out_the_oldest_codes_first_in_file_order(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    older = stock_pool(sessions, 1, 3, request_id=1)
    newer = stock_pool(sessions, 1, 3, request_id=2)
    first = take(client, acme, 1, reference="order-1", quantity=2)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["status"] == "distributed" and body["mode"] == "distribute" and body["quantity"] == 2
    assert codes_of(first) == older[:2]
    assert first.headers["Location"] == f"/api/v1/allocations/{body['id']}"
    second = take(client, acme, 1, reference="order-2", quantity=2)
    assert codes_of(second) == [older[2], newer[0]]
    assert stock(client, acme, 1)["available"] == 2
    assert stock(client, acme, 1)["distributed"] == 4
    assert_counts_are_exact(sessions)


def test_the_same_reference_again_returns_the_same_codes_and_takes_nothing(
    client: FlaskClient, sessions, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 5)
    first = take(client, acme, 1, reference="order-1", quantity=2)
    again = take(client, acme, 1, reference="order-1", quantity=2)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert stock(client, acme, 1)["available"] == 3


@pytest.mark.parametrize("changed", [{"quantity": 3}, {"code_type": "evaluation"}, {"mode": "reserve"}])
def test_the_same_reference_asking_for_something_else_is_a_reference_conflict(
    client: FlaskClient, sessions, make_tenant, changed
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 5)
    stock_pool(sessions, 1, 5, code_type="evaluation", request_id=2)
    first = take(client, acme, 1, reference="order-1", quantity=2)
    conflict = take(client, acme, 1, **({"reference": "order-1", "quantity": 2} | changed))
    assert conflict.status_code == 409
    error = conflict.get_json()["error"]
    assert error["code"] == "reference_conflict"
    assert str(first.get_json()["id"]) in error["message"]
    assert stock(client, acme, 1)["available"] == 3 and stock(client, acme, 1, "evaluation")["available"] == 5


def test_fewer_codes_than_asked_takes_nothing_and_says_how_many_there_are(
    client: FlaskClient, sessions, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 3)
    short = take(client, acme, 1, reference="order-1", quantity=4)
    assert short.status_code == 409
    error = short.get_json()["error"]
    assert error["code"] == "pool_empty"
    assert "4 activation codes asked and 3 available" in error["message"]
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM allocations")).scalar_one() == 0
        assert session.execute(text("SELECT count(*) FROM license_codes WHERE status = 'available'")).scalar_one() == 3
    # The reference was not used up: the same order can try again once codes come.
    stock_pool(sessions, 1, 1, request_id=2)
    assert take(client, acme, 1, reference="order-1", quantity=4).status_code == 201
    assert_counts_are_exact(sessions)


def test_a_reservation_holds_its_codes_until_its_end(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 2)
    reserved = take(client, acme, 1, reference="cart-1", mode="reserve", reservation_minutes=45)
    body = reserved.get_json()
    assert reserved.status_code == 201 and body["status"] == "reserved"
    with sessions() as session:
        minutes = session.execute(
            text("SELECT extract(epoch FROM expires_at - filled_at) / 60 FROM allocations WHERE id = :id"),
            {"id": body["id"]},
        ).scalar_one()
    assert minutes == 45
    assert body["expires_at"] is not None and body["distributed_at"] is None
    assert stock(client, acme, 1)["reserved"] == 1 and stock(client, acme, 1)["available"] == 1


def test_codes_of_one_type_never_fill_a_take_of_the_other(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 5, code_type="activation")
    evaluation = take(client, acme, 1, reference="trial-1", code_type="evaluation")
    assert evaluation.status_code == 409 and evaluation.get_json()["error"]["code"] == "pool_empty"


def test_another_publishers_product_and_allocations_are_not_found(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme, other = make_tenant("acme", (1,)), make_tenant("other", (2,))
    stock_pool(sessions, 1, 5)
    allocation_id = take(client, acme, 1, reference="order-1").get_json()["id"]
    assert take(client, other, 1, reference="order-1").status_code == 404
    for path in (f"/allocations/{allocation_id}", "/products/1/allocations", "/products/1/stock"):
        assert client.get(f"/api/v1{path}", headers=other.auth).status_code == 404, path
    for verb in ("distribute", "release", "revoke"):
        response = client.post(f"/api/v1/allocations/{allocation_id}/{verb}", headers=other.auth)
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] == f"there is no allocation {allocation_id}"


@pytest.mark.parametrize(
    ("asked", "named"),
    [
        ({}, "reference"),
        ({"reference": ""}, "reference"),
        ({"reference": "x" * 201}, "reference"),
        ({"reference": "bad\x00ref"}, "reference"),
        ({"reference": "r", "quantity": 0}, "quantity"),
        ({"reference": "r", "quantity": 1001}, "quantity"),
        ({"reference": "r", "quantity": "2"}, "quantity"),
        ({"reference": "r", "code_type": "gold"}, "code_type"),
        ({"reference": "r", "mode": "sell"}, "mode"),
        ({"reference": "r", "reservation_minutes": 10081}, "reservation_minutes"),
        ({"reference": "r", "backorder": "perhaps"}, "backorder"),
        ({"reference": "r", "colour": "red"}, "colour"),
    ],
)
def test_each_bad_field_of_a_take_is_a_400_that_names_it(
    client: FlaskClient, sessions, make_tenant, asked, named
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    response = take(client, acme, 1, **asked)
    assert response.status_code == 400, response.get_json()
    assert named in response.get_json()["error"]["message"]


def test_a_body_that_is_not_json_is_a_400(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    response = client.post(
        "/api/v1/products/1/allocations", data="reference=x", headers=acme.auth, content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.get_json()["error"]["message"]


def test_a_code_item_names_the_allocation_and_reference_that_hold_it(
    client: FlaskClient, sessions, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    codes = stock_pool(sessions, 1, 2)
    allocation_id = take(client, acme, 1, reference="order-9").get_json()["id"]
    items = client.get("/api/v1/products/1/codes", headers=acme.auth).get_json()["items"]
    by_code = {item["code"]: item for item in items}
    assert (by_code[codes[0]]["allocation_id"], by_code[codes[0]]["reference"]) == (allocation_id, "order-9")
    assert (by_code[codes[1]]["allocation_id"], by_code[codes[1]]["reference"]) == (None, None)
    distributed = client.get("/api/v1/products/1/codes?status=distributed", headers=acme.auth).get_json()
    assert [item["code"] for item in distributed["items"]] == [codes[0]]


def test_a_products_allocations_are_listed_newest_first_and_found_by_reference(
    client: FlaskClient, sessions, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 5)
    ids = [take(client, acme, 1, reference=f"order-{n}").get_json()["id"] for n in range(3)]
    page = client.get("/api/v1/products/1/allocations?limit=2", headers=acme.auth).get_json()
    assert [a["id"] for a in page["items"]] == [ids[2], ids[1]] and page["total"] == 3
    rest = client.get(page["next"], headers=acme.auth).get_json()
    assert [a["id"] for a in rest["items"]] == [ids[0]] and rest["next"] is None
    found = client.get("/api/v1/products/1/allocations?reference=order-1", headers=acme.auth).get_json()
    assert [a["id"] for a in found["items"]] == [ids[1]]
    assert client.get("/api/v1/products/1/allocations?status=gone", headers=acme.auth).status_code == 400


def test_a_body_that_is_not_a_json_object_is_a_400_that_says_so(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    response = client.post("/api/v1/products/1/allocations", json=["order-1"], headers=acme.auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "the body must be a JSON object"
