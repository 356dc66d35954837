"""Products made and changed by their publisher through the API
(docs/product.md#products): POST /api/v1/products and PATCH
/api/v1/products/<id>. A product id or short code taken by anyone is the
same 409, naming no one; every bad field is a 400 naming it; another
publisher's product is a 404 like a missing one; two publishers racing for
one product id get one 201 and one 409, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.models import Product
from tests.conftest import Tenant
from tests.pipeline.conftest import at_once
from tests.web.test_api import PRODUCT_FIELDS, assert_api_error

NEW = {"product_id": 5001, "short_code": "acme-studio", "name": "Acme Studio"}
RACE_TRIALS = 10


def create(client: FlaskClient, tenant: Tenant, body: Any) -> TestResponse:
    return client.post("/api/v1/products", json=body, headers=tenant.auth)


def change(client: FlaskClient, tenant: Tenant, product_id: int, body: Any) -> TestResponse:
    return client.patch(f"/api/v1/products/{product_id}", json=body, headers=tenant.auth)


def product_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Product)) or 0


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("Acme")


# Creating


def test_a_new_product_is_created_with_its_defaults_and_its_url(client: FlaskClient, acme: Tenant) -> None:
    response = create(client, acme, NEW | {"name": "  Acme Studio ", "prefix": "AS-"})

    assert response.status_code == 201
    created = response.get_json()
    assert set(created) == PRODUCT_FIELDS
    assert {k: v for k, v in created.items() if k not in ("created_at", "stock")} == NEW | {
        "prefix": "AS-",
        "activation_expiry_days": 365,
        "evaluation_expiry_days": 30,
        "low_stock_threshold": 100,
    }
    assert response.headers["Location"] == "/api/v1/products/5001"
    assert client.get(response.headers["Location"], headers=acme.auth).get_json() == created
    assert [item["product_id"] for item in client.get("/api/v1/products", headers=acme.auth).get_json()["items"]] == [
        5001
    ]


def test_every_field_given_is_kept(client: FlaskClient, acme: Tenant) -> None:
    given = NEW | {"activation_expiry_days": 90, "evaluation_expiry_days": 60, "low_stock_threshold": 0, "prefix": None}

    created = create(client, acme, given).get_json()

    assert {k: v for k, v in created.items() if k not in ("created_at", "stock")} == given


def test_a_number_with_no_fraction_is_the_whole_number_it_is(client: FlaskClient, acme: Tenant) -> None:
    created = create(client, acme, NEW | {"product_id": 5001.0, "evaluation_expiry_days": 13.0}).get_json()

    assert (created["product_id"], created["evaluation_expiry_days"]) == (5001, 13)
    assert json.dumps(created).count("13.0") == 0


@pytest.mark.parametrize(("field", "code"), [("product_id", "product_id_taken"), ("short_code", "short_code_taken")])
def test_a_taken_id_or_short_code_is_the_same_409_whoever_holds_it_naming_no_one(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], field: str, code: str
) -> None:
    acme, secretive = make_tenant("Acme"), make_tenant("Secretive")
    create(client, acme, NEW | {"product_id": 7001, "short_code": "mine"})
    create(client, secretive, NEW | {"product_id": 7002, "short_code": "theirs"})
    own = {"product_id": 7001, "short_code": "mine"}[field]
    foreign = {"product_id": 7002, "short_code": "theirs"}[field]

    by_itself = assert_api_error(create(client, acme, NEW | {field: own}), 409, code)
    by_another = assert_api_error(create(client, acme, NEW | {field: foreign}), 409, code)

    assert by_itself.replace(str(own), "X") == by_another.replace(str(foreign), "X")
    for hint in ("Secretive", "secretive", "publisher", f" {secretive.publisher_id} "):
        assert hint not in by_another
    assert product_count(sessions) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (NEW | {"product_id": 0}, "product_id"),
        (NEW | {"product_id": "5001"}, "product_id"),
        (NEW | {"product_id": 2**63}, "product_id"),
        (NEW | {"product_id": True}, "product_id"),
        (NEW | {"product_id": None}, "product_id"),
        ({k: v for k, v in NEW.items() if k != "product_id"}, "product_id"),
        (NEW | {"short_code": "has space"}, "short_code"),
        (NEW | {"short_code": ""}, "short_code"),
        ({k: v for k, v in NEW.items() if k != "short_code"}, "short_code"),
        (NEW | {"name": "   "}, "name"),
        (NEW | {"name": "x" * 201}, "name"),
        (NEW | {"name": "Nul\u0000Name"}, "name"),
        (NEW | {"name": ["Acme"]}, "name"),
        (NEW | {"prefix": ""}, "prefix"),
        (NEW | {"prefix": "has space"}, "prefix"),
        (NEW | {"prefix": "-dash"}, "prefix"),
        (NEW | {"activation_expiry_days": 0}, "activation_expiry_days"),
        (NEW | {"activation_expiry_days": 2**31}, "activation_expiry_days"),
        (NEW | {"activation_expiry_days": 1.5}, "activation_expiry_days"),
        (NEW | {"evaluation_expiry_days": 61}, "evaluation_expiry_days"),
        (NEW | {"evaluation_expiry_days": None}, "evaluation_expiry_days"),
        (NEW | {"low_stock_threshold": -1}, "low_stock_threshold"),
        (NEW | {"low_stock_threshold": "100"}, "low_stock_threshold"),
        (NEW | {"colour": "red"}, "colour"),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_creates_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], body: dict[str, Any], field: str
) -> None:
    message = assert_api_error(create(client, acme, body), 400, "invalid")

    assert message.startswith(f"{field} "), message
    assert product_count(sessions) == 0


def test_every_bad_field_is_named_at_once(client: FlaskClient, acme: Tenant) -> None:
    body = NEW | {"product_id": -1, "name": "", "evaluation_expiry_days": 99}

    message = assert_api_error(create(client, acme, body), 400, "invalid")

    assert [part.split(" ")[0] for part in message.split("; ")] == ["product_id", "name", "evaluation_expiry_days"]


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        (json.dumps(NEW), "text/plain", "send the body as JSON"),
        ("{not json", "application/json", "the body is not valid JSON"),
        (b"\xff\xfe", "application/json", "the body is not valid JSON"),
        ("[1, 2]", "application/json", "the body must be a JSON object"),
        ("", "application/json", "product_id is required"),
    ],
)
def test_a_body_that_is_no_json_object_is_a_400_saying_so(
    client: FlaskClient, acme: Tenant, data: str | bytes, content_type: str, says: str
) -> None:
    response = client.post("/api/v1/products", data=data, content_type=content_type, headers=acme.auth)

    assert says in assert_api_error(response, 400, "invalid")


def test_two_publishers_creating_one_product_id_at_once_get_one_201_and_one_409(
    app: Flask, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme, beta = make_tenant("Acme"), make_tenant("Beta")
    for trial in range(RACE_TRIALS):
        bodies = [NEW | {"product_id": 9000 + trial, "short_code": f"race-{trial}-{n}"} for n in (1, 2)]
        statuses = at_once(
            lambda: create(app.test_client(), acme, bodies[0]).status_code,  # noqa: B023 (called at once)
            lambda: create(app.test_client(), beta, bodies[1]).status_code,  # noqa: B023
        )
        assert sorted(statuses) == [201, 409], statuses  # type: ignore[type-var]
    assert product_count(sessions) == RACE_TRIALS


# Changing


def test_a_change_sets_the_fields_sent_and_keeps_the_rest(client: FlaskClient, acme: Tenant) -> None:
    before = create(client, acme, NEW | {"prefix": "AS-", "low_stock_threshold": 5}).get_json()

    response = change(client, acme, 5001, {"name": "Acme Studio 2", "prefix": None, "evaluation_expiry_days": 14})

    assert response.status_code == 200
    assert response.get_json() == before | {"name": "Acme Studio 2", "prefix": None, "evaluation_expiry_days": 14}
    assert client.get("/api/v1/products/5001", headers=acme.auth).get_json() == response.get_json()


def test_an_empty_change_changes_nothing(client: FlaskClient, acme: Tenant) -> None:
    before = create(client, acme, NEW).get_json()

    assert change(client, acme, 5001, {}).get_json() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Renamed", "product_id": 5002}, "product_id"),
        ({"name": "Renamed", "short_code": "renamed"}, "short_code"),
        ({"name": "Renamed", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"name": None}, "name"),
        ({"name": "Renamed", "prefix": ""}, "prefix"),
        ({"name": "Renamed", "activation_expiry_days": -3}, "activation_expiry_days"),
        ({"name": "Renamed", "low_stock_threshold": 1.5}, "low_stock_threshold"),
    ],
)
def test_a_change_of_a_fixed_unknown_or_bad_field_is_a_400_naming_it_and_changes_nothing(
    client: FlaskClient, acme: Tenant, body: dict[str, Any], field: str
) -> None:
    before = create(client, acme, NEW).get_json()

    message = assert_api_error(change(client, acme, 5001, body), 400, "invalid")

    assert message.startswith(f"{field} ")
    assert client.get("/api/v1/products/5001", headers=acme.auth).get_json() == before


def test_another_publishers_product_is_a_404_like_a_missing_one_and_unchanged(
    client: FlaskClient, make_tenant: Any
) -> None:
    acme, other = make_tenant("Acme"), make_tenant("Other", (6001,))

    foreign = assert_api_error(change(client, acme, 6001, {"name": "Taken over"}), 404, "not_found")
    missing = assert_api_error(change(client, acme, 6999, {"name": "Taken over"}), 404, "not_found")

    assert re.sub(r"\d+", "N", foreign) == re.sub(r"\d+", "N", missing)
    assert client.get("/api/v1/products/6001", headers=other.auth).get_json()["name"] == "Other 6001"
