"""What a hostile client sends that the forms and routes never meant to take:
control characters in fields, parameters and URLs, keys in the OpenAPI
document's URL, oversized multipart headers, a forged Host header on a
redirect; and the cache headers that keep codes out of every cache.
(docs/architecture.md#hostile-input)"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.config import Settings
from shared.models import ApiKey, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.web.test_api import assert_api_error
from tests.web.test_keys_page import logged_in
from tests.web.test_login import csrf_token
from tests.web.test_metrics import decide
from web.receive import READ_BYTES

PRODUCT = 1234
BOUNDARY = "hostile"


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


def assert_refused_page(response: TestResponse, field: str) -> None:
    """The HTML error page, 400, naming the field."""
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "text/html"
    assert f"{field!r}" in response.get_data(as_text=True).replace("&#39;", "'")


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """A multipart body of (name, filename, content) parts."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def post_upload(client: FlaskClient, tenant: Tenant, body: bytes) -> TestResponse:
    return client.post(
        f"/api/v1/products/{PRODUCT}/uploads",
        input_stream=io.BytesIO(body),
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )


def upload_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(UploadRequest)) or 0


# Control characters.


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85"], ids=["NUL", "ESC", "DEL", "NEL"])
def test_a_control_character_in_the_login_email_is_a_400_naming_the_field(
    client: FlaskClient, acme: Tenant, character: str
) -> None:
    token = csrf_token(client.get("/login"))
    data = {"csrf_token": token, "email": f"acme{character}@example.com", "password": acme.password}
    assert_refused_page(client.post("/login", data=data), "email")
    # The form still works for the rightful user.
    response = client.post("/login", data={**data, "email": acme.email})
    assert response.status_code == 302 and response.location == "/products"


def test_a_nul_in_a_key_label_is_a_400_naming_the_field_and_creates_no_key(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    token = logged_in(client, acme)
    assert_refused_page(client.post("/keys", data={"csrf_token": token, "label": "ci\x00bot"}), "label")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1  # the fixture's key alone
    # TAB and line breaks are what a text field may hold: not refused.
    assert client.post("/keys", data={"csrf_token": token, "label": "ci\tbot\r\n"}).status_code == 200


def test_a_nul_in_a_key_prefix_in_the_url_is_a_400_naming_it(client: FlaskClient, acme: Tenant) -> None:
    token = logged_in(client, acme)
    assert_refused_page(client.post("/keys/ab%00cd/revoke", data={"csrf_token": token}), "prefix")


def test_a_control_character_in_a_form_sent_as_multipart_is_refused_too(client: FlaskClient, acme: Tenant) -> None:
    token = logged_in(client, acme)
    response = client.post(
        "/keys",
        data={"csrf_token": token, "label": (io.BytesIO(b"x"), "a\x00.txt"), "other": "ok"},
        content_type="multipart/form-data",
    )
    assert_refused_page(response, "label")


@pytest.mark.parametrize("query", ["q=AB%00", "status=%00", "page=%001", "q%00=AB"])
def test_a_nul_in_a_code_view_parameter_is_a_400_page_naming_it(client: FlaskClient, acme: Tenant, query: str) -> None:
    logged_in(client, acme)
    field = query.split("=")[0].replace("%00", "\x00")
    response = client.get(f"/products/{PRODUCT}/codes?{query}")
    assert response.status_code == 400
    assert repr(field) in response.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/products/{PRODUCT}/codes?q=AB%01", "q"),
        ("/api/v1/uploads?status=queued%00", "status"),
        ("/api/v1/uploads?x%0b=1", "x\x0b"),
    ],
)
def test_a_control_character_in_an_api_parameter_is_a_400_invalid_naming_it(
    client: FlaskClient, acme: Tenant, path: str, field: str
) -> None:
    message = assert_api_error(client.get(path, headers=acme.auth), 400, "invalid")
    assert "control character" in message and repr(field) in message


def test_a_control_character_in_an_upload_form_field_or_filename_is_a_400_and_stores_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    codes = txt(f"{PRODUCT}\tCODE-0001")
    field = multipart(("code_type", None, b"activation\x00"), ("file", "codes.txt", codes))
    assert "'code_type'" in assert_api_error(post_upload(client, acme, field), 400, "invalid")
    named = multipart(("file", "co\x00des.txt", codes))
    assert "file name" in assert_api_error(post_upload(client, acme, named), 400, "invalid")
    assert upload_count(sessions) == 0
    # A name in UTF-8 with a TAB is still a name.
    fine = post_upload(client, acme, multipart(("file", "Gr\u00fc\u00dfe\t1.txt", codes)))
    assert fine.status_code == 202, fine.get_json()


def test_a_nul_in_the_upload_screens_form_is_refused_on_the_screen_naming_the_field(
    client: FlaskClient, acme: Tenant
) -> None:
    logged_in(client, acme)
    page = client.get(f"/products/{PRODUCT}/uploads")
    token = csrf_token(page)
    body = multipart(
        ("csrf_token", None, token.encode()), ("dry_run", None, b"\x00"), ("file", "a.txt", txt(f"{PRODUCT}\tC-1"))
    )
    response = client.post(
        f"/products/{PRODUCT}/uploads",
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    # The screen says so where the publisher is: on the upload screen.
    assert response.status_code == 303
    screen = client.get(response.location).get_data(as_text=True).replace("&#39;", "'")
    assert "'dry_run' contains a control character" in screen


# Cache-Control on what shows codes.


def test_the_code_view_the_downloads_and_the_codes_api_are_sent_no_store(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], engine: Engine, settings: Settings
) -> None:
    good = queued_request(sessions, acme, txt(f"{PRODUCT}\tCODE-0001"))
    bad = queued_request(sessions, acme, txt(f"{PRODUCT}\tCODE-0001", f"{PRODUCT}\tCODE-0001"))
    assert decide(engine, sessions, good, settings) == "completed"
    assert decide(engine, sessions, bad, settings) == "rejected"
    api = [
        f"/api/v1/uploads/{good}/codes.txt",
        f"/api/v1/uploads/{bad}/errors.csv",
        f"/api/v1/products/{PRODUCT}/codes",
    ]
    for path in api:
        response = client.get(path, headers=acme.auth)
        response.get_data()  # a download streams on its own connection until read
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") == "no-store", path
    logged_in(client, acme)
    screens = [f"/uploads/{good}/codes.txt", f"/uploads/{bad}/errors.csv", f"/products/{PRODUCT}/codes"]
    for path in [*screens, f"/uploads/{good}", f"/products/{PRODUCT}/uploads", "/products", "/keys"]:
        response = client.get(path)
        response.get_data()
        assert response.status_code == 200, path
        assert response.headers.get("Cache-Control") == "no-store", path
    assert "CODE-0001" in client.get(f"/products/{PRODUCT}/codes").get_data(as_text=True)
    # Static files hold nothing of anyone's: they may be cached.
    with client.get("/static/style.css") as response:
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", "")


# The OpenAPI document.


@pytest.mark.parametrize("query", ["api_key=lc_0123456789ab_secret", "token=x"])
def test_a_key_in_the_openapi_documents_url_is_refused_like_on_every_api_route(client: FlaskClient, query: str) -> None:
    message = assert_api_error(client.get(f"/api/v1/openapi.json?{query}"), 400, "api_key_in_url")
    assert "Authorization: Bearer" in message
    assert client.get("/api/v1/openapi.json").status_code == 200


# Multipart headers.


def test_a_part_header_over_its_limit_is_a_400_naming_the_limit_and_stores_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    padding = "x" * (2 * READ_BYTES)
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nX-Pad: {padding}\r\n\r\n'
        ).encode()
        + b"1234\tC-1\r\n\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    message = assert_api_error(post_upload(client, acme, body), 400, "bad_request")
    assert "part header" in message and "512 KB" in message
    assert upload_count(sessions) == 0


# Redirects.


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/api//v1/products", "/api/v1/products?status=queued"),
        ("/api/v1//uploads", "/api/v1/uploads?status=queued"),
        ("/api/v1/licenses-import-results/7", "/api/v1/licenses-import-results/7/?status=queued"),
        ("/uploads//7", "/uploads/7?status=queued"),
    ],
)
def test_a_routing_redirect_is_relative_whatever_the_host_header_says(
    client: FlaskClient, acme: Tenant, path: str, location: str
) -> None:
    # PATH_INFO as a server passes it on: the test client would read `//x` as a host.
    response = client.get(
        "/", query_string="status=queued", environ_overrides={"PATH_INFO": path}, headers={"Host": "evil.example"}
    )
    assert response.status_code in (301, 308)
    assert response.headers["Location"] == location
    assert "evil.example" not in response.get_data(as_text=True)
    # The app's own redirects were relative already, and stay so.
    host = {"Host": "evil.example"}
    assert client.get("/products", headers=host).headers["Location"] == "/login?next=%2Fproducts"
    assert client.get("/", headers=host).headers["Location"] == "/login"
    token = csrf_token(client.get("/login", headers=host))
    data = {"csrf_token": token, "email": acme.email, "password": acme.password}
    assert client.post("/login?next=//evil.example/x", data=data, headers=host).headers["Location"] == "/products"
