"""The webhook endpoints through the API (docs/product.md#events-signed-webhooks):
registered with a secret shown once and kept sealed, changed, rotated,
deleted; another publisher's is a 404; every bad field a 400 naming it;
an internal address refused at registration."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.events import secrets
from tests.conftest import Tenant

URL = "https://93.184.216.34/hooks"


def register(client: FlaskClient, tenant: Tenant, **body: Any) -> Any:
    return client.post(
        "/api/v1/webhooks", json={"url": URL, "events": ["upload.completed"]} | body, headers=tenant.auth
    )


def test_a_registered_endpoint_shows_its_secret_once_and_keeps_it_sealed(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], settings: Settings
) -> None:
    acme = make_tenant("Acme")

    response = register(client, acme, events=["stock.low", "upload.completed"], description="the shop")

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    assert response.headers["Location"] == f"/api/v1/webhooks/{created['id']}"
    assert created["events"] == ["upload.completed", "stock.low"]
    assert (created["enabled"], created["description"], created["disabled_reason"]) == (True, "the shop", None)
    shown = client.get(f"/api/v1/webhooks/{created['id']}", headers=acme.auth).get_json()
    assert "secret" not in shown
    assert client.get("/api/v1/webhooks", headers=acme.auth).get_json()["items"] == [shown]
    with sessions() as session:
        stored = session.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()
    assert created["secret"].removeprefix("whsec_") not in stored
    assert secrets.unseal(stored, settings.secret_key) == created["secret"]


def test_another_publishers_endpoint_is_not_found(client: FlaskClient, make_tenant: Any) -> None:
    acme, other = make_tenant("Acme"), make_tenant("Other")
    endpoint_id = register(client, acme).get_json()["id"]
    base = f"/api/v1/webhooks/{endpoint_id}"

    calls = [
        client.get(base, headers=other.auth),
        client.patch(base, json={"enabled": False}, headers=other.auth),
        client.post(f"{base}/rotate-secret", headers=other.auth),
        client.post(f"{base}/test", headers=other.auth),
        client.get(f"{base}/deliveries", headers=other.auth),
        client.post(f"{base}/deliveries/msg_x/replay", headers=other.auth),
        client.delete(base, headers=other.auth),
    ]

    assert [call.status_code for call in calls] == [404] * len(calls)
    assert client.get("/api/v1/webhooks", headers=other.auth).get_json() == {"items": []}
    assert client.get(base, headers=acme.auth).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["upload.completed"]}, "url"),
        ({"url": URL}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": ["upload.done"]}, "events"),
        ({"url": URL, "events": ["webhook.test"]}, "events"),
        ({"url": URL, "events": "upload.completed"}, "events"),
        ({"url": URL, "events": ["upload.completed"], "description": 5}, "description"),
        ({"url": URL, "events": ["upload.completed"], "description": "x" * 501}, "description"),
        ({"url": URL, "events": ["upload.completed"], "secret": "whsec_mine"}, "secret"),
        ({"url": 7, "events": ["upload.completed"]}, "url"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(
    client: FlaskClient, make_tenant: Any, body: dict[str, Any], field: str
) -> None:
    acme = make_tenant("Acme")

    response = client.post("/api/v1/webhooks", json=body, headers=acme.auth)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid"
    assert field in response.get_json()["error"]["message"]


@pytest.fixture(scope="module")
def strict_app(settings: Settings, engine: Any) -> Flask:
    """The app as an operator runs it: private networks refused."""
    from web import create_app

    app = create_app(
        dataclasses.replace(settings, webhooks=dataclasses.replace(settings.webhooks, allow_private_networks=False))
    )
    app.config["TESTING"] = True
    return app


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[::1]:8443/",
        "https://10.0.0.8/hooks",
        "https://localhost/hooks",
        "http://127.0.0.1:8000/hooks",
        "http://93.184.216.34/hooks",  # plain http, to a host the operator did not allow
    ],
)
def test_an_internal_address_or_plain_http_is_refused_at_registration(
    strict_app: Flask, make_tenant: Any, sessions: sessionmaker[Session], url: str
) -> None:
    acme = make_tenant("Acme")

    response = strict_app.test_client().post(
        "/api/v1/webhooks", json={"url": url, "events": ["upload.completed"]}, headers=acme.auth
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("url ")
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM webhook_endpoints")).scalar_one() == 0


def test_an_endpoint_is_changed_paused_and_deleted(client: FlaskClient, make_tenant: Any) -> None:
    acme = make_tenant("Acme")
    base = f"/api/v1/webhooks/{register(client, acme).get_json()['id']}"

    changed = client.patch(
        base, json={"events": ["backorder.filled"], "description": "", "enabled": False}, headers=acme.auth
    )

    assert changed.status_code == 200
    assert {k: changed.get_json()[k] for k in ("events", "description", "enabled")} == {
        "events": ["backorder.filled"],
        "description": "",
        "enabled": False,
    }
    refused = client.patch(base, json={"url": "https://93.184.216.35/"}, headers=acme.auth)
    assert refused.status_code == 400 and "url" in refused.get_json()["error"]["message"]
    assert client.patch(base, json={"enabled": "yes"}, headers=acme.auth).status_code == 400
    assert client.post(f"{base}/test", headers=acme.auth).status_code == 409  # paused
    assert client.delete(base, headers=acme.auth).status_code == 204
    assert client.get(base, headers=acme.auth).status_code == 404


def test_a_rotation_shows_a_new_secret_and_keeps_the_old_for_24_hours(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("Acme")
    created = register(client, acme).get_json()

    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", headers=acme.auth)

    assert rotated.status_code == 200
    assert rotated.get_json()["secret"] != created["secret"]
    with sessions() as session:
        hours = session.execute(
            text("SELECT extract(epoch FROM previous_secret_until - now()) / 3600 FROM webhook_endpoints")
        ).scalar_one()
    assert 23.9 < float(hours) <= 24


def test_a_test_event_is_written_for_that_endpoint_alone(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    acme = make_tenant("Acme")
    first, second = register(client, acme).get_json(), register(client, acme).get_json()

    sent = client.post(f"/api/v1/webhooks/{first['id']}/test", headers=acme.auth)

    assert sent.status_code == 202
    message_id = sent.get_json()["message_id"]
    assert re.fullmatch(r"msg_[0-9a-f]{32}", message_id)
    log = client.get(f"/api/v1/webhooks/{first['id']}/deliveries", headers=acme.auth).get_json()
    assert [(d["message_id"], d["type"], d["status"]) for d in log["items"]] == [
        (message_id, "webhook.test", "pending")
    ]
    assert client.get(f"/api/v1/webhooks/{second['id']}/deliveries", headers=acme.auth).get_json()["items"] == []
