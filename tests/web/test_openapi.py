"""The OpenAPI document of the REST API (web.openapi): valid, complete, and
true of the real app. Schemathesis generates requests from it, valid and
invalid, sends them to the Flask app in-process (WSGI) with a real API key
on the real PostgreSQL and Redis, and runs every one of its checks on each
answer: no 5xx, only documented statuses, content types, headers and
bodies, 401 without the key, 405 with Allow for an undocumented method."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from tests.conftest import Tenant
from web.openapi import document

# Few examples an operation, but every check on each: the suite runs on two
# cores. Raise it locally to dig deeper (the coverage phase runs regardless).
MAX_EXAMPLES = 20
PRODUCT_IDS = (1001, 1002)


def test_the_served_document_is_valid_openapi(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")  # no key: the document is public
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == document()
    schemathesis.openapi.from_dict(response.get_json()).validate()


def test_the_document_lists_every_api_route_and_method(app: Flask) -> None:
    documented = {(path, method.upper()) for path, operations in document()["paths"].items() for method in operations}
    routed = {
        (_openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert routed == documented


def _openapi_path(flask_rule: str) -> str:
    """/uploads/<int:upload_id> as OpenAPI writes it: /uploads/{upload_id}."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", flask_rule)


# A file's content is the Code Generator's to judge, not the schema's: a
# well-formed upload of any bytes may still be refused at once (400 not_csv on
# the CSV import, empty_file for zero bytes).
FILE_UPLOADS = {"include-path-regex": "/uploads$|/import_from_csv/$", "include-method": "POST"}
POSITIVE_UPLOADS_ACCEPTED = ["2xx", "400", "404", "409"]
# A generation's strength (bits from the length and the alphabet together)
# and its distinct alphabet are rules no JSON Schema of one field can state:
# a body that fits the schema may still be a 400 naming the field.
GENERATIONS = {"include-path-regex": "/generations$", "include-method": "POST"}
# A webhook's URL is resolved and its addresses checked when it is registered:
# a well-formed URL may still be refused (400 naming url).
WEBHOOK_REGISTRATION = {"include-path-regex": "/webhooks$", "include-method": "POST"}
WEBHOOK_REGISTRATION_ACCEPTED = ["2xx", "400", "409"]
# Drawn ids would almost never name a real object; half the time take one
# that exists (the acme fixture's products, and its uploads 1 and 2).
REAL_IDS = {"products": {"values": list(PRODUCT_IDS)}, "uploads": {"values": [1, 2]}}
OFTEN_REAL = {
    f"path.{name}": {"dictionary": dictionary, "probability": 0.5}
    for name, dictionary in (("product_id", "products"), ("upload_id", "uploads"), ("job_id", "uploads"))
}

# Schemathesis sets the key on every case but those that test a missing or
# bad one, some of them at collection, before any publisher exists: the test
# puts the real key in the placeholder's place.
KEY_PLACEHOLDER = "the-key-of-the-tests-publisher"
PLACEHOLDER_HEADER = f"Bearer {KEY_PLACEHOLDER}"

# Built from the document itself, at import: the app it tests needs the
# database, which only the fixtures give (the first test checks that the app
# serves exactly this document).
schema = schemathesis.openapi.from_dict(
    document(),
    config=schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"apiKey": {"bearer": KEY_PLACEHOLDER}}},
            "dictionaries": REAL_IDS,
            "parameters": OFTEN_REAL,
            "generation": {"max-examples": MAX_EXAMPLES},
            "operations": [
                FILE_UPLOADS
                | {"checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_UPLOADS_ACCEPTED}}},
                GENERATIONS
                | {"checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_UPLOADS_ACCEPTED}}},
                WEBHOOK_REGISTRATION
                | {"checks": {"positive_data_acceptance": {"expected-statuses": WEBHOOK_REGISTRATION_ACCEPTED}}},
            ],
        }
    ),
)


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    """A publisher with two products and two queued uploads: 1 (TXT, for
    product 1001) and 2 (a CSV import)."""
    tenant = make_tenant("Acme", PRODUCT_IDS)
    uploaded = _post_file(client, tenant, "/api/v1/products/1001/uploads", b"1001\tCODE-1\r\n")
    assert uploaded.get_json()["id"] == 1
    csv = b"license__license_key,product__short_code\nCODE-2,Acme-1002\n"
    assert _post_file(client, tenant, "/api/v1/licenses/import_from_csv/", csv).get_json() == {"job_id": 2}
    return tenant


def _post_file(client: FlaskClient, tenant: Tenant, path: str, content: bytes) -> TestResponse:
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "codes")})
    return client.post(path, data=body, headers=tenant.auth, content_type=f"multipart/form-data; boundary={boundary}")


# One publisher for all the examples of an operation, on purpose: what one
# call created (an upload, a replayed Idempotency-Key) is there for the next.
@schema.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_app_responds_as_its_document_says(case: schemathesis.Case, app: Flask, acme: Tenant) -> None:
    # The app is known only now; the checks that send requests of their own
    # (ignored_auth: the same call without the key) reach it through the schema.
    case.operation.schema.app = app
    if case.headers and case.headers.get("Authorization") == PLACEHOLDER_HEADER:
        case.headers["Authorization"] = f"Bearer {acme.api_key}"
    case.call_and_validate(app=app)
