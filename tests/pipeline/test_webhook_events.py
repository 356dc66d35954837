"""The decisions of the Code Generator as webhook events
(docs/architecture.md#webhooks-the-outbox-and-delivery): written in the
transaction that decides, one per subscribed endpoint, the request as the
API shows it without its errors; nothing for a decision that is not
committed. The worker's own task runs in this process (db tier)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared import states
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def subscribe(client: FlaskClient, tenant: Tenant, *events: str) -> int:
    body = {"url": "https://93.184.216.34/hooks", "events": list(events)}
    endpoint_id: int = client.post("/api/v1/webhooks", json=body, headers=tenant.auth).get_json()["id"]
    return endpoint_id


def messages(sessions: sessionmaker[Session]) -> list[tuple[str, dict[str, Any], int]]:
    with sessions() as session:
        rows = session.execute(
            text("""
                SELECT m.type, m.data, count(d.id) FROM webhook_messages m
                JOIN webhook_deliveries d ON d.message_id = m.id GROUP BY m.id ORDER BY m.id
            """)
        ).all()
    return [(kind, data, deliveries) for kind, data, deliveries in rows]


def test_a_completed_and_a_rejected_upload_each_write_one_event_per_subscribed_endpoint(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    acme: Tenant,
    process_upload: Callable[[int], str],
) -> None:
    subscribe(client, acme, "upload.completed", "upload.rejected")
    subscribe(client, acme, "upload.completed", "upload.rejected")
    subscribe(client, acme, "stock.low")
    good = queued_request(sessions, acme, txt("1\tGOOD-1", "1\tGOOD-2"))
    bad = queued_request(sessions, acme, txt("1\tBAD 1"))

    assert process_upload(good) == "completed"
    assert process_upload(bad) == "rejected"

    (completed, rejected) = messages(sessions)
    for (kind, data, deliveries), request_id in ((completed, good), (rejected, bad)):
        shown = client.get(f"/api/v1/uploads/{request_id}", headers=acme.auth).get_json()
        del shown["errors"]
        assert (kind, deliveries) == (f"upload.{shown['status']}", 2)
        assert data == shown
    assert completed[1]["code_count"] == 2
    assert rejected[1]["reason_code"] == "format" and "errors" not in rejected[1]


def test_a_decision_that_rolls_back_writes_no_event(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    subscribe(client, acme, "upload.completed")
    request_id = queued_request(sessions, acme, txt("1\tCODE-1"))
    with sessions.begin() as session:
        held = states.claim(session, request_id, lease_seconds=60)
    assert held is not None

    with sessions() as session:
        assert states.complete(session, held, code_count=1)
        seen_inside = session.execute(text("SELECT count(*) FROM webhook_messages")).scalar_one()
        session.rollback()

    assert seen_inside == 1
    assert messages(sessions) == []


def test_a_request_given_up_after_three_attempts_is_sent_as_rejected(
    client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    subscribe(client, acme, "upload.rejected")
    request_id = queued_request(sessions, acme, txt("1\tCODE-1"))
    for _ in range(states.MAX_ATTEMPTS):
        with sessions.begin() as session:
            held = states.claim(session, request_id, lease_seconds=60)
            assert held is not None
        with sessions.begin() as session:
            states.give_back(session, held)

    ((kind, data, deliveries),) = messages(sessions)
    assert (kind, data["reason_code"], deliveries) == ("upload.rejected", "processing_failed", 1)
