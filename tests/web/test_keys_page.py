"""The API keys page: list, create (the key shown once, in the
response to the POST), revoke; only the logged-in publisher's keys. Also the
empty states and error pages that say what to do next."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.apikeys import prefix_of
from shared.models import ApiKey
from tests.conftest import Tenant
from tests.web.test_login import FormFields, csrf_token, post_login

NEW_KEY_FIELD = "new-key"
KEY_SHAPE = re.compile(r"lc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def logged_in(client: FlaskClient, tenant: Tenant) -> str:
    """Log `tenant` in; the CSRF token of its keys page."""
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    page = client.get("/keys")
    assert page.status_code == 200
    return csrf_token(page)


def create_key(client: FlaskClient, token: str, label: str = "") -> tuple[TestResponse, str]:
    """POST the create form; the response and the key it shows."""
    response = client.post("/keys", data={"csrf_token": token, "label": label})
    assert response.status_code == 200, response.status_code
    return response, new_key_input(response)["value"]


def new_key_input(response: TestResponse) -> dict[str, str]:
    """The attributes of the field showing the new key. It has no name (it is
    not part of any form), so FormFields, which indexes inputs by name, does
    not see it."""
    match = re.search(rf'<input[^>]*id="{NEW_KEY_FIELD}"[^>]*>', response.get_data(as_text=True))
    assert match, "no new key on the page"
    return dict(re.findall(r'([\w-]+)(?:="([^"]*)")?', match.group(0)[len("<input") :]))


def test_the_keys_page_requires_login(client: FlaskClient, make_tenant: Any) -> None:
    make_tenant("acme")
    response = client.get("/keys")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert client.post("/keys", data={}).status_code in (302, 400)  # no cookie: never a key


def test_the_page_lists_the_publishers_keys_and_the_nav_links_to_it(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    logged_in(client, acme)
    html = client.get("/keys").get_data(as_text=True)
    assert f"lc_{prefix_of(acme.api_key)}_" in html
    assert acme.api_key not in html  # only the prefix, ever
    assert 'href="/keys"' in client.get("/products").get_data(as_text=True)
    assert '<th scope="col">Key</th>' in html and "<h1>API keys</h1>" in html
    assert "Active" in html and "never" in html  # the fixture's key was never used


def test_a_created_key_is_shown_once_in_a_labelled_readonly_field_and_works_on_the_api(
    client: FlaskClient, make_tenant: Any
) -> None:
    acme = make_tenant("acme")
    token = logged_in(client, acme)
    response, key = create_key(client, token, label="build server")
    assert KEY_SHAPE.fullmatch(key)
    html = response.get_data(as_text=True)
    field = new_key_input(response)
    assert "readonly" in field
    assert FormFields(html).labels[NEW_KEY_FIELD].strip() == "API key"
    assert "will not be shown again" in html and "copy" in html.lower()
    assert response.headers["Cache-Control"] == "no-store"
    assert key not in response.headers.get("Set-Cookie", "")  # never in the session cookie
    assert key not in (response.location or "")

    again = client.get("/keys").get_data(as_text=True)
    assert key not in again
    assert f"lc_{prefix_of(key)}_" in again and "build server" in again

    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_the_key_is_stored_only_as_a_hash(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("acme")
    _, key = create_key(client, logged_in(client, acme))
    with sessions() as session:
        stored = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix_of(key))).one()
    assert key not in (stored.digest, stored.label, stored.prefix)


def test_revoking_a_key_makes_it_respond_401_at_once(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    token = logged_in(client, acme)
    _, key = create_key(client, token)
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/products", headers=auth).status_code == 200
    prefix = prefix_of(key)

    response = client.post(f"/keys/{prefix}/revoke", data={"csrf_token": token})
    assert response.status_code == 303 and response.location.endswith("/keys")
    assert client.get("/api/v1/products", headers=auth).status_code == 401
    assert client.get("/api/v1/products", headers=acme.auth).status_code == 200  # the other key still works
    html = client.get("/keys").get_data(as_text=True)
    assert f"lc_{prefix} is revoked" in html and "Revoked" in html
    assert f"/keys/{prefix}/revoke" not in html  # no button on a revoked key


def test_the_revoke_button_is_labelled_and_asks_for_confirmation(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    logged_in(client, acme)
    html = client.get("/keys").get_data(as_text=True)
    prefix = prefix_of(acme.api_key)
    assert f'data-confirm="Revoke the API key lc_{prefix}?' in html
    assert f'Revoke<span class="visually-hidden"> the API key lc_{prefix}</span>' in html


def test_create_and_revoke_without_the_csrf_token_respond_400_and_change_nothing(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("acme")
    logged_in(client, acme)
    assert client.post("/keys", data={"label": "forged"}).status_code == 400
    assert client.post(f"/keys/{prefix_of(acme.api_key)}/revoke").status_code == 400
    with sessions() as session:
        keys = session.execute(select(ApiKey.prefix, ApiKey.revoked_at)).all()
    assert [tuple(row) for row in keys] == [(prefix_of(acme.api_key), None)]
    assert client.get("/api/v1/products", headers=acme.auth).status_code == 200


def test_another_publishers_key_is_404_and_stays_active(client: FlaskClient, make_tenant: Any) -> None:
    globex = make_tenant("globex")
    acme = make_tenant("acme")
    token = logged_in(client, acme)
    theirs = prefix_of(globex.api_key)
    assert client.post(f"/keys/{theirs}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post("/keys/000000000000/revoke", data={"csrf_token": token}).status_code == 404
    assert client.get("/api/v1/products", headers=globex.auth).status_code == 200
    assert f"lc_{theirs}" not in client.get("/keys").get_data(as_text=True)


def test_with_no_keys_the_page_says_to_create_one(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("acme")
    with sessions.begin() as session:
        session.execute(delete(ApiKey).where(ApiKey.publisher_id == acme.publisher_id))
    logged_in(client, acme)
    html = client.get("/keys").get_data(as_text=True)
    assert "No API keys yet. Create one above" in html and "<table>" not in html


def test_with_no_products_the_page_says_to_create_one_with_its_form(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("acme")
    logged_in(client, acme)
    html = client.get("/products").get_data(as_text=True)
    assert "No products yet" in html and "create one first with the form below" in html
    assert 'action="/products"' in html and "<table>" not in html


def test_error_pages_say_what_to_do_next_and_link_back(client: FlaskClient, make_tenant: Any) -> None:
    anonymous = client.get("/no-such-page")
    assert anonymous.status_code == 404
    assert 'href="/login"' in anonymous.get_data(as_text=True)

    acme = make_tenant("acme")
    logged_in(client, acme)
    missing = client.get("/products/424242/uploads").get_data(as_text=True)
    assert "Check the address" in missing and 'href="/products"' in missing
    forged = client.post("/keys", data={}).get_data(as_text=True)
    assert "reload the page and try again" in forged and 'href="/products"' in forged
