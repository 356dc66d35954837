"""No publisher reaches another's objects: every route of
the URL map that names an object, called with every method it takes, by one
publisher (API key for /api, signed-in session with a valid CSRF token for
the screens) on the other's products, uploads, import jobs, allocations,
webhook endpoints and their messages, and API keys (by prefix), responds 404,
exactly as for an object that does not exist, and changes nothing."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import Rule

from shared.apikeys import prefix_of
from shared.models import (
    Allocation,
    ApiKey,
    LicenseCode,
    UploadBlob,
    UploadRequest,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import Tenant
from tests.pipeline.conftest import txt, upload, wait_decided
from tests.pipeline.test_csv_and_dry_run import import_csv
from tests.web.test_login import csrf_token, post_login

pytestmark = pytest.mark.usefixtures("workers")
MINE, THEIRS = 1111, 2222


@pytest.fixture
def theirs(make_tenant: Any, client: FlaskClient) -> tuple[Tenant, dict[str, list[Any]]]:
    """The other publisher, and its objects of every kind, by route variable."""
    tenant = make_tenant("globex", (THEIRS,))
    completed = upload(client, tenant, THEIRS, txt(f"{THEIRS}\tG-1\t30\t1\t1")).get_json()["id"]
    rejected = upload(client, tenant, THEIRS, txt(f"{THEIRS}\tG 2")).get_json()["id"]
    dry_run = upload(client, tenant, THEIRS, txt(f"{THEIRS}\tG-3"), dry_run="true").get_json()["id"]
    job = import_csv(client, tenant, f"license__license_key,product__short_code\nG-4,globex-{THEIRS}\n").get_json()
    for upload_id in (completed, rejected, dry_run, job["job_id"]):
        assert wait_decided(client, tenant, upload_id)["status"] in ("completed", "rejected")
    taken = client.post(f"/api/v1/products/{THEIRS}/allocations", json={"reference": "g-1", "mode": "reserve"},
                        headers=tenant.auth)  # fmt: skip
    assert taken.status_code == 201, taken.get_json()
    hook = {"url": "https://93.184.216.34/hooks", "events": ["stock.low"]}
    webhook_id = client.post("/api/v1/webhooks", json=hook, headers=tenant.auth).get_json()["id"]
    message_id = client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=tenant.auth).get_json()["message_id"]
    return tenant, {
        "product_id": [THEIRS],
        "upload_id": [completed, rejected, dry_run, job["job_id"]],
        "job_id": [job["job_id"]],
        "prefix": [prefix_of(tenant.api_key)],
        "allocation_id": [taken.get_json()["id"]],
        "webhook_id": [webhook_id],
        "message_id": [message_id],
    }


def object_routes(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.arguments and rule.endpoint != "static"]


def urls(rule: Rule, ids: dict[str, list[Any]]) -> list[str]:
    """The rule's URL for each combination of the objects it names (a webhook's message names two)."""
    names = sorted(rule.arguments)
    combinations = itertools.product(*(ids[name] for name in names))
    built = [rule.build(dict(zip(names, values, strict=True)), append_unknown=False) for values in combinations]
    return [url for _, url in built]  # type: ignore[misc]


def state(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        requests = session.execute(
            select(UploadRequest.id, UploadRequest.status, UploadRequest.confirmed_from_id).order_by(UploadRequest.id)
        ).all()
        blobs = session.scalar(select(func.count()).select_from(UploadBlob))
        keys = session.execute(select(ApiKey.prefix, ApiKey.revoked_at).order_by(ApiKey.id)).all()
        allocations = session.execute(select(Allocation.id, Allocation.status).order_by(Allocation.id)).all()
        codes = session.execute(select(LicenseCode.code, LicenseCode.status).order_by(LicenseCode.code)).all()
        webhooks = session.execute(
            select(
                WebhookEndpoint.id, WebhookEndpoint.enabled, WebhookEndpoint.events, WebhookEndpoint.secret
            ).order_by(WebhookEndpoint.id)
        ).all()
        deliveries = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.status, WebhookDelivery.retrying_since).order_by(
                WebhookDelivery.id
            )
        ).all()
    rows = [*requests, ("blobs", blobs), *keys, *allocations, *codes, *webhooks, *deliveries]
    return [tuple(row) for row in rows]


def test_every_route_responds_404_for_every_object_of_another_publisher_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    make_tenant: Any,
    theirs: tuple[Tenant, dict[str, list[Any]]],
    sessions: sessionmaker[Session],
) -> None:
    other, ids = theirs
    me = make_tenant("acme", (MINE,))
    assert post_login(client, me.email, me.password).status_code == 302
    token = csrf_token(client.get(f"/products/{MINE}/uploads"))
    before = state(sessions)
    tried = 0
    for rule in object_routes(app):
        for url in urls(rule, ids):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if url.startswith("/api/"):
                    # A body the schema of a take accepts: an empty one is refused (400) before any lookup.
                    body = {"reference": "probe"} if method == "POST" else None
                    response = client.open(url, method=method, headers=me.auth, json=body)
                else:
                    response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
                assert response.status_code == 404, f"{method} {url}: {response.status_code}"
                tried += 1
    assert tried >= 20
    assert state(sessions) == before

    # The same objects are there for their owner: the 404s were not for want of them.
    for rule in object_routes(app):
        if rule.rule.startswith("/api/") and rule.methods and "GET" in rule.methods:
            for url in urls(rule, ids):
                assert client.get(url, headers=other.auth).status_code != 404, url


def test_lists_and_searches_show_only_the_callers_objects(
    client: FlaskClient, make_tenant: Any, theirs: tuple[Tenant, dict[str, list[Any]]]
) -> None:
    _, ids = theirs
    me = make_tenant("acme", (MINE,))
    mine = upload(client, me, MINE, txt(f"{MINE}\tA-1\t30\t1\t1")).get_json()["id"]
    wait_decided(client, me, mine)
    listed = client.get("/api/v1/uploads", headers=me.auth).get_json()
    assert [item["id"] for item in listed["items"]] == [mine]
    assert [p["product_id"] for p in client.get("/api/v1/products", headers=me.auth).get_json()["items"]] == [MINE]
    for status in ("completed", "rejected"):
        filtered = client.get("/api/v1/uploads", query_string={"status": status}, headers=me.auth).get_json()
        assert not set(ids["upload_id"]) & {item["id"] for item in filtered["items"]}
