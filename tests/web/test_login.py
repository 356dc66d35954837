"""Web login, logout and the products page, with CSRF protection on (as in
production): every form post carries the token of the page it came from."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shared.config import Settings
from web import create_app

WRONG_LOGIN = "Wrong e-mail address or password."
CSRF_INPUT = re.compile(r'(<input[^>]*name="csrf_token"[^>]*value=")([^"]+)(")')


class FormFields(HTMLParser):
    """The inputs and labels of a page, by id and by name."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str]] = {}
        self.labels: dict[str, str] = {}  # the `for` of a label -> its text
        self._label_for: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "input" and "name" in attributes:
            self.inputs[attributes["name"]] = attributes
        elif tag == "label":
            self._label_for = attributes.get("for", "")
            self.labels[self._label_for] = ""

    def handle_data(self, data: str) -> None:
        if self._label_for is not None:
            self.labels[self._label_for] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None


def csrf_token(page: TestResponse) -> str:
    token = FormFields(page.get_data(as_text=True)).inputs["csrf_token"]
    assert token["type"] == "hidden" and token["value"]
    return token["value"]


def post_login(client: FlaskClient, email: str, password: str, **query: str) -> TestResponse:
    token = csrf_token(client.get("/login"))
    return client.post("/login", query_string=query, data={"csrf_token": token, "email": email, "password": password})


def is_logged_in(client: FlaskClient) -> bool:
    response = client.get("/products")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.location.startswith("/login")
    return False


def session_set_cookie(response: TestResponse) -> dict[str, str]:
    """The attributes of the session cookie a response sets, names lowercased."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            parts = [part.strip() for part in header.split(";")]
            return {name.lower(): value for name, _, value in (part.partition("=") for part in parts[1:])}
    raise AssertionError(f"no session cookie set: {response.headers.getlist('Set-Cookie')}")


def test_the_login_page_has_labelled_email_and_password_fields(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    page = FormFields(response.get_data(as_text=True))
    email, password = page.inputs["email"], page.inputs["password"]
    assert email["type"] == "email"
    assert password["type"] == "password"
    assert page.labels[email["id"]].strip() == "E-mail address"
    assert page.labels[password["id"]].strip() == "Password"


def test_a_login_post_without_a_csrf_token_is_refused_and_does_not_log_in(
    client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme")
    client.get("/login")
    response = client.post("/login", data={"email": tenant.email, "password": tenant.password})
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_a_login_post_with_a_forged_csrf_token_is_refused(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    client.get("/login")
    data = {"csrf_token": "forged." + "x" * 40, "email": tenant.email, "password": tenant.password}
    assert client.post("/login", data=data).status_code == 400
    assert not is_logged_in(client)


def test_a_wrong_password_responds_401_with_a_message_and_does_not_log_in(
    client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme")
    response = post_login(client, tenant.email, tenant.password + "x")
    assert response.status_code == 401
    assert WRONG_LOGIN in response.get_data(as_text=True)
    assert not is_logged_in(client)


def test_an_unknown_email_responds_exactly_like_a_wrong_password(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    unknown = "nobody@example.com"

    def page(response: TestResponse, email: str) -> str:
        html = response.get_data(as_text=True).replace(email, "EMAIL")
        return CSRF_INPUT.sub(r"\1TOKEN\3", html)

    wrong_password = post_login(client, tenant.email, "not-the-password")
    unknown_email = post_login(client, unknown, "not-the-password")
    assert unknown_email.status_code == wrong_password.status_code == 401
    assert WRONG_LOGIN in unknown_email.get_data(as_text=True)
    assert page(unknown_email, unknown) == page(wrong_password, tenant.email)
    assert not is_logged_in(client)


def test_the_right_password_redirects_to_products_with_an_httponly_samesite_lax_cookie(
    client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme")
    response = post_login(client, tenant.email, tenant.password)
    assert response.status_code == 302
    assert response.location == "/products"
    cookie = session_set_cookie(response)
    assert "httponly" in cookie
    assert cookie.get("samesite", "").lower() == "lax"
    assert is_logged_in(client)


def test_behind_https_the_session_cookie_is_secure_too(settings: Settings, make_tenant: Any) -> None:
    client = create_app(dataclasses.replace(settings, secure_cookies=True)).test_client()
    tenant = make_tenant("Acme")
    cookie = session_set_cookie(post_login(client, tenant.email, tenant.password))
    assert "secure" in cookie and "httponly" in cookie


def test_without_https_configured_the_cookie_is_not_marked_secure(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    assert "secure" not in session_set_cookie(post_login(client, tenant.email, tenant.password))


def test_the_email_address_is_matched_regardless_of_case(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    response = post_login(client, tenant.email.upper(), tenant.password)
    assert (response.status_code, response.location) == (302, "/products")


def test_products_without_login_redirects_to_login_and_back_after_it(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme", (101,))
    response = client.get("/products")
    assert response.status_code == 302
    login_url = urlsplit(response.location)
    assert login_url.path == "/login"
    next_page = parse_qs(login_url.query)["next"]
    assert next_page == ["/products"]
    response = post_login(client, tenant.email, tenant.password, next=next_page[0])
    assert response.location == "/products"
    assert "Acme-101" in client.get("/products").get_data(as_text=True)


def test_products_lists_only_the_callers_products(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("Acme", (101, 102))
    make_tenant("Beta", (202,))
    post_login(client, acme.email, acme.password)
    response = client.get("/products")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Acme-101" in html and "Acme-102" in html and "Acme 102" in html
    assert "Beta-202" not in html
    assert "Beta 202" not in html


def test_logout_by_get_is_not_allowed_and_keeps_the_session(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    post_login(client, tenant.email, tenant.password)
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)


def test_logout_without_the_csrf_token_is_refused(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    post_login(client, tenant.email, tenant.password)
    assert client.post("/logout").status_code == 400
    assert is_logged_in(client)


def test_logout_with_the_csrf_token_ends_the_session(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    post_login(client, tenant.email, tenant.password)
    token = csrf_token(client.get("/products"))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/login"
    assert not is_logged_in(client)


def test_a_session_cookie_kept_from_before_logout_no_longer_logs_in(
    app: Any, client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme")
    post_login(client, tenant.email, tenant.password)
    stolen = client.get_cookie("session")
    assert stolen is not None
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/products"))})

    replay = app.test_client()
    replay.set_cookie("session", stolen.value)
    assert not is_logged_in(replay)


def test_a_next_parameter_to_another_host_redirects_to_products(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    # A browser drops a tab inside a URL, so "/<TAB>/evil.example" means "//evil.example".
    targets = (
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example/x",
        "///evil.example/x",
        "/\t/evil.example/x",
    )
    for target in targets:
        response = post_login(client, tenant.email, tenant.password, next=target)
        assert (response.status_code, response.location) == (302, "/products"), target
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/products"))})


def test_a_next_parameter_with_a_path_on_this_site_is_honoured(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    # A query string makes the target differ from the default /products.
    response = post_login(client, tenant.email, tenant.password, next="/products?page=2")
    assert (response.status_code, response.location) == (302, "/products?page=2")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/products"))})
    response = post_login(client, tenant.email, tenant.password, next="/products")
    assert (response.status_code, response.location) == (302, "/products")


def test_a_next_parameter_with_a_line_break_redirects_to_products(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    response = post_login(client, tenant.email, tenant.password, next="/products\r\nX-Injected: 1")
    assert (response.status_code, response.location) == (302, "/products")


def session_contents(app: Any, client: FlaskClient) -> dict[str, Any]:
    """What the signed session cookie holds (Flask keeps the session in it)."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    contents: dict[str, Any] = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    return contents


def test_the_csrf_token_changes_at_login_and_the_old_one_is_refused(
    app: Any, client: FlaskClient, make_tenant: Any
) -> None:
    tenant = make_tenant("Acme")
    before = csrf_token(client.get("/login"))
    secret_before = session_contents(app, client)["csrf_token"]
    response = client.post("/login", data={"csrf_token": before, "email": tenant.email, "password": tenant.password})
    assert response.status_code == 302
    after = csrf_token(client.get("/products"))
    assert session_contents(app, client)["csrf_token"] != secret_before
    # A token read from the login page before the login (by whoever could) posts nothing after it.
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert is_logged_in(client)
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


def test_nothing_planted_in_the_session_before_login_survives_it(client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("Acme")
    with client.session_transaction() as planted:
        planted["planted"] = "by someone else"
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session
