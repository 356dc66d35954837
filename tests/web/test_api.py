"""REST API v1 (docs/product.md#the-rest-api): Bearer keys, the caller's products only, and
errors as JSON `{"error": {"code", "message"}}`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.config import Settings
from shared.models import Publisher
from shared.products import NewProduct, create_product
from shared.tenants import create_api_key, revoke_api_key
from web import create_app

PRODUCT_FIELDS = {
    "product_id",
    "short_code",
    "name",
    "prefix",
    "activation_expiry_days",
    "evaluation_expiry_days",
    "low_stock_threshold",
    "stock",
    "created_at",
}


def assert_api_error(response: TestResponse, status: int, code: str) -> str:
    """Check the JSON error shape and return its message."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message.strip()
    return message


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_request_without_authorization_responds_401_json_with_www_authenticate(client: FlaskClient) -> None:
    response = client.get("/api/v1/products")
    assert_api_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def _altered_secret(key: str) -> str:
    # Same shape and prefix (so the row is found), one character of the secret changed.
    return key[:-1] + ("A" if key[-1] != "A" else "B")


BAD_KEYS: dict[str, Callable[[str], str]] = {
    "malformed": lambda key: "not-a-key",
    "malformed_truncated": lambda key: key[:-1],
    "well_formed_unknown": lambda key: "lc_" + "0" * 12 + "_" + "A" * 43,
    "unknown_prefix_right_secret": lambda key: "lc_" + ("0" * 12 if key[3:15] != "0" * 12 else "1" * 12) + key[15:],
    "altered_secret": _altered_secret,
    "other_scheme": lambda key: key,  # sent as Basic below
}


@pytest.mark.parametrize("kind", sorted(BAD_KEYS))
def test_a_bad_api_key_responds_401(client: FlaskClient, make_tenant: Any, kind: str) -> None:
    tenant = make_tenant("Acme", (101,))
    assert client.get("/api/v1/products", headers=tenant.auth).status_code == 200
    key = BAD_KEYS[kind](tenant.api_key)
    scheme = "Basic" if kind == "other_scheme" else "Bearer"
    response = client.get("/api/v1/products", headers={"Authorization": f"{scheme} {key}"})
    assert_api_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_api_key_responds_401_while_another_key_of_the_publisher_still_works(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], settings: Settings
) -> None:
    tenant = make_tenant("Acme", (101,))
    with sessions.begin() as session:
        other_key = create_api_key(session, session.get_one(Publisher, tenant.publisher_id), settings.secret_key)
    assert client.get("/api/v1/products", headers=tenant.auth).status_code == 200
    with sessions.begin() as session:
        revoke_api_key(session, session.get_one(Publisher, tenant.publisher_id), tenant.api_key[3:15])
    assert_api_error(client.get("/api/v1/products", headers=tenant.auth), 401, "unauthorized")
    assert client.get("/api/v1/products", headers=bearer(other_key)).status_code == 200


def test_a_web_session_cookie_alone_does_not_authenticate_the_api(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme", (101,))
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page)
    assert token is not None
    data = {"csrf_token": token.group(1), "email": tenant.email, "password": tenant.password}
    assert client.post("/login", data=data).status_code == 302
    assert client.get("/products").status_code == 200  # the cookie is good for the web
    assert_api_error(client.get("/api/v1/products"), 401, "unauthorized")
    assert_api_error(client.get("/api/v1/products/101"), 401, "unauthorized")


def test_products_lists_exactly_the_callers_products_with_their_fields(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("Acme", (101,))
    make_tenant("Beta", (202, 203))
    with sessions.begin() as session:
        publisher = session.get_one(Publisher, acme.publisher_id)
        create_product(session, publisher, NewProduct(55, "acme.pro", "Acme Pro", "AP-", 400, 45, 7))
    before = datetime.now(UTC)

    response = client.get("/api/v1/products", headers=acme.auth)

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["product_id"] for item in items] == [55, 101]
    assert all(set(item) == PRODUCT_FIELDS for item in items)
    pro = {k: v for k, v in items[0].items() if k not in ("created_at", "stock")}
    assert pro == {
        "product_id": 55,
        "short_code": "acme.pro",
        "name": "Acme Pro",
        "prefix": "AP-",
        "activation_expiry_days": 400,
        "evaluation_expiry_days": 45,
        "low_stock_threshold": 7,
    }
    assert items[1]["prefix"] is None
    assert items[1]["low_stock_threshold"] == 100
    for item in items:
        created_at = item["created_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created_at), created_at
        moment = datetime.fromisoformat(created_at.removesuffix("Z") + "+00:00")
        assert abs(moment - before) < timedelta(minutes=5)  # really UTC, not local time marked Z


def test_products_of_a_publisher_without_products_is_an_empty_list(client: FlaskClient, make_tenant: Any) -> None:
    make_tenant("Beta", (202,))
    lonely = make_tenant("Lonely")
    response = client.get("/api/v1/products", headers=lonely.auth)
    assert response.status_code == 200
    assert response.get_json() == {"items": []}


def test_one_product_of_the_caller_is_the_same_object_as_in_the_list(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("Acme", (101, 102))
    listed = client.get("/api/v1/products", headers=acme.auth).get_json()["items"]
    response = client.get("/api/v1/products/102", headers=acme.auth)
    assert response.status_code == 200
    assert response.get_json() == listed[1]
    assert response.get_json()["short_code"] == "Acme-102"


def test_another_publishers_product_is_a_404_indistinguishable_from_a_missing_one(
    client: FlaskClient, make_tenant: Any
) -> None:
    acme = make_tenant("Acme", (101,))
    make_tenant("Beta", (202,))
    foreign = client.get("/api/v1/products/202", headers=acme.auth)
    missing = client.get("/api/v1/products/999", headers=acme.auth)
    foreign_message = assert_api_error(foreign, 404, "not_found")
    missing_message = assert_api_error(missing, 404, "not_found")
    assert "Beta" not in foreign.get_data(as_text=True)
    assert re.sub(r"\d+", "N", foreign_message) == re.sub(r"\d+", "N", missing_message)
    assert foreign_message.replace("202", "999") == missing_message
    assert set(foreign.headers.keys()) == set(missing.headers.keys())


def test_an_unknown_api_path_responds_json_404(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("Acme")
    assert_api_error(client.get("/api/v1/no-such-thing", headers=acme.auth), 404, "not_found")
    assert_api_error(client.get("/api/v1/products/not-a-number", headers=acme.auth), 404, "not_found")


def test_a_wrong_method_on_an_api_path_responds_json_405_with_the_allowed_methods(
    client: FlaskClient, make_tenant: Any
) -> None:
    acme = make_tenant("Acme", (101,))
    response = client.delete("/api/v1/products/101", headers=acme.auth)
    assert_api_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "PATCH"}
    assert_api_error(client.put("/api/v1/products", headers=acme.auth), 405, "method_not_allowed")


def test_an_api_post_without_a_csrf_token_is_not_refused_as_csrf(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("Acme", (101,))
    response = client.post(
        "/api/v1/products", headers=acme.auth, json={"product_id": 5, "short_code": "x", "name": "X"}
    )
    # Created: the API takes a key, not a session cookie, and no CSRF token.
    assert response.status_code == 201


def test_a_post_route_of_the_api_blueprint_is_exempt_from_csrf_while_a_page_post_is_not(
    settings: Settings, make_tenant: Any
) -> None:
    """A stand-in for the upload routes to come: a POST view registered under
    the `api` blueprint's endpoint namespace on a fresh app gets the API's
    Bearer check and no CSRF check; the same view outside it gets CSRF."""
    acme = make_tenant("Acme")
    app: Flask = create_app(settings)

    def echo() -> Any:
        return jsonify({"ok": True})

    app.add_url_rule("/api/v1/echo", endpoint="api.echo", view_func=echo, methods=["POST"])
    app.add_url_rule("/echo", endpoint="pages.echo", view_func=echo, methods=["POST"])
    client = app.test_client()
    try:
        assert client.post("/api/v1/echo", headers=acme.auth, data={"a": "b"}).get_json() == {"ok": True}
        assert_api_error(client.post("/api/v1/echo", data={"a": "b"}), 401, "unauthorized")
        page = client.post("/echo", data={"a": "b"})
    finally:
        app.extensions["licensecodes.engine"].dispose()
    assert page.status_code == 400
    assert page.mimetype == "text/html"


def test_page_numbers_work_for_the_first_100_pages_and_beyond_them_name_after(
    client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme", (1234,))
    for path in ("/api/v1/uploads", "/api/v1/products/1234/codes"):
        assert client.get(f"{path}?page=100", headers=tenant.auth).status_code == 200
        for page in (101, 1_000_000):
            response = client.get(f"{path}?page={page}", headers=tenant.auth)
            assert response.status_code == 400, (path, page)
            error = response.get_json()["error"]
            assert error["code"] == "invalid"
            assert "after" in error["message"], error
        assert client.get(f"{path}?page={2**70}", headers=tenant.auth).status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/uploads?page=%C2%B9",  # "¹": str.isdigit() says yes, int() says no
        "/api/v1/uploads?per_page=%C2%B2",
        "/api/v1/uploads?product_id=%C2%B9",
        "/api/v1/products/1234/codes?page=%D9%A1",  # an Arabic-Indic one
        "/api/v1/uploads?page=",  # the document says a number; an empty one is not
        "/api/v1/uploads?per_page=",
        "/api/v1/uploads?status=",
        "/api/v1/products/1234/codes?status=",
        "/api/v1/products/1234/codes?q=CODE%00",  # PostgreSQL text holds no NUL
    ],
)
def test_a_query_value_that_only_looks_like_a_number_or_holds_nul_is_a_400_not_a_500(
    client: FlaskClient, make_tenant: Any, query: str
) -> None:
    tenant = make_tenant("Acme", (1234,))
    assert_api_error(client.get(query, headers=tenant.auth), 400, "invalid")
