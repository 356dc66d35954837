"""Every state-changing route of the pages demands the
CSRF token, the API's routes accept no session cookie alone; a hostile uploaded
file name never reaches a header, a path or a page unescaped. (That an API
key is never logged: tests/e2e/test_serve.py, on the real processes' logs.)"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shared.apikeys import prefix_of
from shared.models import Allocation, ApiKey, Product, UploadRequest, WebhookDelivery, WebhookEndpoint
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.pool.conftest import stock_pool
from tests.web.test_login import is_logged_in, post_login

PRODUCT = 1234
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def state_changing_rules(app: Flask) -> list[tuple[str, str]]:
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) & STATE_CHANGING)
    )


def concrete(
    rule: str,
    product_id: int,
    upload_id: int,
    key_prefix: str,
    allocation_id: int = 1,
    webhook: tuple[int, str] = (1, "msg_none"),
) -> str:
    """`webhook`: an endpoint's id and one of its messages."""
    return (
        rule.replace("<int:product_id>", str(product_id))
        .replace("<int:upload_id>", str(upload_id))
        .replace("<int:allocation_id>", str(allocation_id))
        .replace("<int:webhook_id>", str(webhook[0]))
        .replace("<message_id>", webhook[1])
        .replace("<prefix>", key_prefix)
    )


def snapshot(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        requests = session.execute(select(UploadRequest.id, UploadRequest.status)).all()
        keys = session.execute(select(ApiKey.prefix, ApiKey.revoked_at)).all()
        allocations = session.execute(select(Allocation.id, Allocation.status)).all()
        products = session.execute(select(Product.product_id, Product.name, Product.prefix)).all()
        webhooks = session.execute(select(WebhookEndpoint.id, WebhookEndpoint.enabled, WebhookEndpoint.secret)).all()
        deliveries = session.execute(select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)).all()
    rows = [requests, keys, allocations, products, webhooks, deliveries]
    return [tuple(row) for kind in rows for row in kind]


def test_every_state_changing_route_refuses_a_request_without_the_csrf_token_or_the_api_key(
    app: Flask, client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, acme.email, acme.password).status_code == 302
    pending = queued_request(sessions, acme, txt("1234\tCSRF-1"))
    stock_pool(sessions, PRODUCT, 2)
    reservation = client.post(
        f"/api/v1/products/{PRODUCT}/allocations", json={"reference": "r", "mode": "reserve"}, headers=acme.auth
    ).get_json()["id"]
    hook = {"url": "https://93.184.216.34/hooks", "events": ["stock.low"]}
    webhook_id = client.post("/api/v1/webhooks", json=hook, headers=acme.auth).get_json()["id"]
    message_id = client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=acme.auth).get_json()["message_id"]
    before = snapshot(sessions)
    rules = state_changing_rules(app)
    assert len(rules) >= 8, rules  # the walk must see the routes, not an empty map
    for rule, method in rules:
        path = concrete(rule, PRODUCT, pending, prefix_of(acme.api_key) or "", reservation, (webhook_id, message_id))
        boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(txt("1234\tCSRF-2")), "x.txt")})
        response = client.open(
            path, method=method, data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )  # the logged-in browser's cookie, as a forged cross-site form would carry it
        if rule.startswith("/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code == 400, (method, path, response.status_code)
            assert "csrf" in response.get_data(as_text=True).lower(), (method, path)
    assert snapshot(sessions) == before  # nothing created, changed, deleted, confirmed or revoked
    assert is_logged_in(client)  # the forged logout did not log out


# Sent as RFC 2231 `filename*`, the one way a multipart header carries CR, LF
# and double quotes (a browser percent-encodes them the same way).
HOSTILE = "a\"b\r\nX-Injected: 1\r\n<script>alert(1)</script>\u202etxt.exe/../..\\x'y.txt"


def hostile_upload(client: FlaskClient, tenant: Tenant, content: bytes) -> Any:
    boundary = "hostile-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''{quote(HOSTILE, safe='')}\r\n"
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        f"/api/v1/products/{PRODUCT}/uploads",
        data=body,
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_hostile_file_name_never_reaches_a_header_a_path_or_a_page_unescaped(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme: Tenant = make_tenant("acme", (PRODUCT,))
    created = hostile_upload(client, acme, txt("1234\tNAMED-1"))
    assert created.status_code == 202, created.get_data(as_text=True)
    shown = created.get_json()["filename"]
    assert "<script>" in shown and '"' in shown, repr(shown)  # the name arrived whole...
    assert not re.search(r"[\r\n\u202e]", shown), repr(shown)  # ...and is shown without its controls
    upload_id = created.get_json()["id"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UploadRequest)) == 1

    assert post_login(client, acme.email, acme.password).status_code == 302
    responses = {
        "created": created,
        "api status": client.get(f"/api/v1/uploads/{upload_id}", headers=acme.auth),
        "api list": client.get("/api/v1/uploads", headers=acme.auth),
        "screen": client.get(f"/products/{PRODUCT}/uploads"),
        "table": client.get(f"/products/{PRODUCT}/uploads/table"),
    }
    for name, response in responses.items():
        assert response.status_code in (200, 202), (name, response.status_code)
        for header, value in response.headers.items():
            assert "Injected" not in header and "script" not in value and "\u202e" not in value, (name, header)
        body = response.get_data(as_text=True)
        assert "\u202e" not in body and "\r\nX-Injected" not in body, name
        if response.mimetype == "text/html":  # JSON carries the name as data, served as JSON with nosniff
            assert "<script>alert" not in body, name
    # The page shows the name, escaped: the reader sees what was sent, minus the controls.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in responses["table"].get_data(as_text=True)
    # Downloads are named by the request id, never by the uploaded name.
    for path in (f"/uploads/{upload_id}/codes.txt", f"/api/v1/uploads/{upload_id}/errors.csv"):
        disposition = client.get(path, headers=acme.auth).headers.get("Content-Disposition", "")
        assert "script" not in disposition and "exe" not in disposition, (path, disposition)
