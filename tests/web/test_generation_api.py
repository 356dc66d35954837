"""Generation requests through the API (docs/product.md#generation-requests):
POST /api/v1/products/<id>/generations queues a request of kind
`generation` that lives among the uploads; every bad field is a 400 naming
it and queues nothing; the Idempotency-Key and the delete work as for uploads."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.models import UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import with_prefix
from tests.web.test_api import assert_api_error

PRODUCT = 6001
GENERATION_FIELDS = {"quantity", "format", "expiry_days", "build_no", "seats"}


@pytest.fixture
def acme(make_tenant: Any, sessions: sessionmaker[Session]) -> Tenant:
    return with_prefix(make_tenant, sessions, "Acme", PRODUCT, "AC")


def generate(client: FlaskClient, tenant: Tenant, body: Any, product_id: int = PRODUCT, **headers: str) -> TestResponse:
    return client.post(f"/api/v1/products/{product_id}/generations", json=body, headers=tenant.auth | headers)


def requests_made(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(UploadRequest)) or 0


def test_a_generation_is_queued_as_a_request_of_its_own_kind(client: FlaskClient, acme: Tenant) -> None:
    response = generate(client, acme, {"quantity": 500, "expiry_days": 90, "seats": 3})

    assert response.status_code == 202
    made = response.get_json()
    assert response.headers["Location"] == f"/api/v1/uploads/{made['id']}"
    assert (made["kind"], made["format"], made["filename"], made["status"]) == ("generation", None, None, "queued")
    assert (made["sha256"], made["size_bytes"], made["code_type"], made["dry_run"]) == (None, None, "activation", False)
    assert made["generation"] == {
        "quantity": 500,
        "format": {
            "alphabet": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
            "length": 20,
            "group": 5,
            "separator": "-",
            "prefix": "AC",  # the product's
            "suffix": "",
        },
        "expiry_days": 90,
        "build_no": None,
        "seats": 3,
    }
    assert client.get(f"/api/v1/uploads/{made['id']}", headers=acme.auth).get_json() == made


def test_the_requests_list_holds_both_kinds_each_with_its_kind(client: FlaskClient, acme: Tenant) -> None:
    uploaded = client.post(
        f"/api/v1/products/{PRODUCT}/uploads",
        data={"file": (__import__("io").BytesIO(b"6001\tAC-ONE\r\n"), "c.txt")},
        headers=acme.auth,
    )
    assert uploaded.status_code == 202
    assert uploaded.get_json()["kind"] == "upload"
    generated = generate(client, acme, {"quantity": 10, "code_type": "evaluation"}).get_json()

    listed = client.get("/api/v1/uploads", headers=acme.auth).get_json()["items"]

    assert [(item["id"], item["kind"]) for item in listed] == [
        (generated["id"], "generation"),
        (uploaded.get_json()["id"], "upload"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "quantity"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 2_000_001}, "quantity"),
        ({"quantity": "10"}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 10, "code_type": "trial"}, "code_type"),
        ({"quantity": 10, "code_type": None}, "code_type"),
        ({"quantity": 10, "dry_run": "yes"}, "dry_run"),
        ({"quantity": 10, "expiry_days": 0}, "expiry_days"),
        ({"quantity": 10, "code_type": "evaluation", "expiry_days": 61}, "expiry_days"),
        ({"quantity": 10, "build_no": -1}, "build_no"),
        ({"quantity": 10, "seats": 0}, "seats"),
        ({"quantity": 10, "format": "short"}, "format"),
        ({"quantity": 10, "format": {"alphabet": "A"}}, "format.alphabet"),
        ({"quantity": 10, "format": {"alphabet": "AAB" * 10}}, "format.alphabet"),
        ({"quantity": 10, "format": {"alphabet": "ABCDÉ" * 8}}, "format.alphabet"),
        ({"quantity": 10, "format": {"alphabet": "AB-CD"}}, "format.alphabet"),
        ({"quantity": 10, "format": {"alphabet": None}}, "format.alphabet"),
        ({"quantity": 10, "format": {"length": 5}}, "format.length"),
        ({"quantity": 10, "format": {"length": 65}}, "format.length"),
        ({"quantity": 10, "format": {"group": -1}}, "format.group"),
        ({"quantity": 10, "format": {"separator": "/"}}, "format.separator"),
        ({"quantity": 10, "format": {"prefix": "XY"}}, "format.prefix"),
        ({"quantity": 10, "format": {"prefix": "AC\u00a0"}}, "format.prefix"),
        ({"quantity": 10, "format": {"suffix": "-x y"}}, "format.suffix"),
        ({"quantity": 10, "format": {"colour": "red"}}, "format.colour"),
        ({"quantity": 10, "format": {"prefix": "AC" + "X" * 120}}, "format"),
        ({"quantity": 10, "colour": "red"}, "colour"),
    ],
)
def test_each_bad_field_is_a_400_naming_it_and_nothing_is_queued(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], body: dict[str, Any], field: str
) -> None:
    before = requests_made(sessions)

    message = assert_api_error(generate(client, acme, body), 400, "invalid")

    assert message.startswith(f"{field} "), message
    assert requests_made(sessions) == before


def test_a_format_too_weak_is_refused_naming_its_bits_and_the_least_length(client: FlaskClient, acme: Tenant) -> None:
    message = assert_api_error(
        generate(client, acme, {"quantity": 10, "format": {"alphabet": "AB", "length": 30}}), 400, "invalid"
    )

    assert "30.0 bits" in message and "at least 40" in message, message
    # 12 digits are 39.9 bits: one short. (1,000 codes of space for each of
    # two million is 2 * 10**9, fewer than 2**40: the bits decide at every quantity.)
    many = {"quantity": 2_000_000, "format": {"alphabet": "0123456789", "length": 12}}
    message = assert_api_error(generate(client, acme, many), 400, "invalid")
    assert message.startswith("format.length 12 ") and "39.9 bits" in message, message
    assert "a length of at least 13" in message, message


def test_a_foreign_or_missing_product_is_a_404(client: FlaskClient, acme: Tenant, make_tenant: Any) -> None:
    make_tenant("Rival", (6002,))

    assert_api_error(generate(client, acme, {"quantity": 10}, product_id=6002), 404, "not_found")
    assert_api_error(generate(client, acme, {"quantity": 10}, product_id=6999), 404, "not_found")


def test_a_retry_with_the_same_key_gets_the_same_request_and_another_body_a_409(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    first = generate(client, acme, {"quantity": 10}, **{"Idempotency-Key": "gen-1"})
    again = generate(client, acme, {"quantity": 10}, **{"Idempotency-Key": "gen-1"})

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_api_error(generate(client, acme, {"quantity": 11}, **{"Idempotency-Key": "gen-1"}), 409, "conflict")
    assert requests_made(sessions) == 1


def test_a_queued_generation_is_deleted_like_an_upload(client: FlaskClient, acme: Tenant) -> None:
    made = generate(client, acme, {"quantity": 10}).get_json()

    assert client.delete(f"/api/v1/uploads/{made['id']}", headers=acme.auth).status_code == 204
    assert_api_error(client.get(f"/api/v1/uploads/{made['id']}", headers=acme.auth), 404, "not_found")
