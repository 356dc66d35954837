"""What protects the browser on every response, and API keys kept out of
URLs."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from shared.config import Settings
from tests.web.test_api import assert_api_error
from tests.web.test_login import post_login
from web import create_app
from web.security import HEADERS


def example_url(rule: Rule) -> str:
    """The rule's path with every variable filled in (an id that does not exist)."""
    values = {name: 999_999 if name.endswith("id") else "x" for name in rule.arguments}
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<path:{name}>", "x").replace(f"<{name}>", "x")
    return path


def get_routes(app: Flask) -> list[str]:
    return sorted({example_url(rule) for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())})


def assert_protected(response: Any, what: str) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, f"{what}: {name} is {response.headers.get(name)!r}"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_every_route_responds_with_the_protective_headers_whatever_its_status(
    app: Flask, client: FlaskClient, make_tenant: Any, signed_in: bool
) -> None:
    tenant = make_tenant("acme", (1234,))
    if signed_in:
        assert post_login(client, tenant.email, tenant.password).status_code == 302
    headers = tenant.auth if signed_in else {}
    statuses = set()
    for path in get_routes(app):
        response = client.get(path, headers=headers)
        statuses.add(response.status_code)
        assert_protected(response, f"GET {path} ({response.status_code})")
    assert {200, 404} <= statuses  # pages, and the objects that do not exist
    assert_protected(client.post("/api/v1/products/1234/uploads", headers=headers), "a refused upload")


def test_an_unexpected_error_page_is_protected_too(settings: Settings, sessions: Any) -> None:
    app = create_app(settings)

    @app.get("/_failing")
    def failing() -> str:
        raise RuntimeError("boom")

    response = app.test_client().get("/_failing")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)
    assert_protected(response, "a 500")


@pytest.mark.parametrize("name", ["api_key", "token", "access_token", "Key"])
def test_a_credential_named_in_the_query_string_is_refused_before_anything_else(
    client: FlaskClient, make_tenant: Any, name: str
) -> None:
    tenant = make_tenant("acme", (1234,))
    response = client.get("/api/v1/uploads", query_string={name: tenant.api_key}, headers=tenant.auth)
    message = assert_api_error(response, 400, "api_key_in_url")
    assert "Authorization: Bearer" in message and "revoke" in message
    assert tenant.api_key not in response.get_data(as_text=True)


def test_one_of_our_keys_in_any_query_parameter_is_refused(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("acme", (1234,))
    response = client.get("/api/v1/uploads", query_string={"status": tenant.api_key})
    assert_api_error(response, 400, "api_key_in_url")


def test_ordinary_query_parameters_still_work(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("acme", (1234,))
    response = client.get("/api/v1/uploads", query_string={"status": "queued", "per_page": "5"}, headers=tenant.auth)
    assert response.status_code == 200
