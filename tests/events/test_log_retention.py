"""The delivery log deleted WEBHOOK_LOG_RETENTION_DAYS after a delivery
finished (shared.events.log_retention, docs/operating.md#routine-maintenance):
old succeeded and failed deliveries go with their attempts, and a message
once none of its deliveries is left; pending deliveries, recent ones and
their messages stay, and other tables are untouched. The deliveries are
real ones, sent to a receiver on 127.0.0.1 and then aged in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.errors import ConfigError
from shared.events import deliveries, outbox
from shared.events.log_retention import Forgotten, forget_old_deliveries
from shared.models import UploadRequest, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage
from shared.statuses import EventType
from tests.conftest import Tenant
from tests.events.receiver import Receiver, receiver
from tests.events.test_delivery import register

DAYS = 30


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def _test_event(client: FlaskClient, tenant: Tenant, endpoint_id: int) -> str:
    sent = client.post(f"/api/v1/webhooks/{endpoint_id}/test", headers=tenant.auth)
    assert sent.status_code == 202, sent.get_json()
    message_id: str = sent.get_json()["message_id"]
    return message_id


def _deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    deliveries.deliver_due(sessions, settings.webhooks, settings.secret_key, 10)


def _age(sessions: sessionmaker[Session], message_id: str, days: int = DAYS + 1) -> None:
    """The message and every delivery of it, as if made (and finished) `days` ago."""
    with sessions.begin() as session:
        ago = {"days": days, "message": message_id}
        session.execute(
            text("""UPDATE webhook_messages SET created_at = now() - make_interval(days => :days)
                    WHERE message_id = :message"""),
            ago,
        )
        session.execute(
            text("""UPDATE webhook_deliveries SET
                        created_at = now() - make_interval(days => :days),
                        finished_at = finished_at - make_interval(days => :days)
                    WHERE message_id = (SELECT id FROM webhook_messages WHERE message_id = :message)"""),
            ago,
        )


def _log(sessions: sessionmaker[Session]) -> dict[str, list[tuple[int, str]]]:
    """Each message still kept: its deliveries' endpoints and statuses."""
    with sessions.begin() as session:
        rows = session.execute(
            select(WebhookMessage.message_id, WebhookDelivery.endpoint_id, WebhookDelivery.status)
            .outerjoin(WebhookDelivery, WebhookDelivery.message_id == WebhookMessage.id)
            .order_by(WebhookDelivery.endpoint_id)
        ).all()
    kept: dict[str, list[tuple[int, str]]] = {}
    for message_id, endpoint_id, status in rows:
        kept.setdefault(message_id, [])
        if endpoint_id is not None:
            kept[message_id].append((endpoint_id, status))
    return kept


def _count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions.begin() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_old_finished_deliveries_go_with_their_attempts_and_their_emptied_messages(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    make_tenant: Any,
    hooks: Receiver,
) -> None:
    acme = make_tenant("Acme", (1,))
    answering = register(client, acme, hooks.url)["id"]
    # Another endpoint that never answers: its delivery stays pending.
    silent = register(client, acme, "http://127.0.0.1:9/nothing-listens")["id"]
    old = _test_event(client, acme, answering)
    recent = _test_event(client, acme, answering)
    failed = _test_event(client, acme, answering)
    with sessions.begin() as session:
        # One message to both endpoints, as an upload's decision writes it.
        shared = outbox.publish(session, acme.publisher_id, EventType.UPLOAD_COMPLETED, {"id": 1})
    assert shared is not None
    _deliver(sessions, settings)
    with sessions.begin() as session:
        session.execute(
            text("""UPDATE webhook_deliveries SET status = 'failed' WHERE message_id =
                    (SELECT id FROM webhook_messages WHERE message_id = :message)"""),
            {"message": failed},
        )
        # The silent endpoint's delivery waits for its next attempt, far off.
        session.execute(
            text("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 day' WHERE endpoint_id = :e"),
            {"e": silent},
        )
    for message_id in (old, failed, shared):
        _age(sessions, message_id)
    assert _log(sessions)[shared] == [(answering, "succeeded"), (silent, "pending")]
    attempts_before = _count(sessions, WebhookAttempt)
    requests_before, endpoints_before = _count(sessions, UploadRequest), _count(sessions, WebhookEndpoint)

    forgotten = forget_old_deliveries(engine, DAYS, batch=2)

    assert (forgotten.deliveries, forgotten.messages) == (3, 2)
    assert _log(sessions) == {recent: [(answering, "succeeded")], shared: [(silent, "pending")]}
    # Each sent delivery had one attempt: the three deleted deliveries' went with them.
    assert _count(sessions, WebhookAttempt) == attempts_before - 3
    assert (_count(sessions, UploadRequest), _count(sessions, WebhookEndpoint)) == (requests_before, endpoints_before)
    assert forget_old_deliveries(engine, DAYS) == Forgotten(0, 0)


def test_a_retention_of_0_keeps_the_log_forever(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    make_tenant: Any,
    hooks: Receiver,
) -> None:
    acme = make_tenant("Acme")
    endpoint = register(client, acme, hooks.url)["id"]
    message = _test_event(client, acme, endpoint)
    _deliver(sessions, settings)
    _age(sessions, message, days=3650)

    assert forget_old_deliveries(engine, 0) == Forgotten(0, 0)
    assert _log(sessions) == {message: [(endpoint, "succeeded")]}


def test_an_old_message_whose_endpoint_was_deleted_goes_too(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    make_tenant: Any,
    hooks: Receiver,
) -> None:
    acme = make_tenant("Acme")
    gone, kept = (register(client, acme, hooks.url)["id"] for _ in range(2))
    orphaned, recent = _test_event(client, acme, gone), _test_event(client, acme, kept)
    _age(sessions, orphaned)
    assert client.delete(f"/api/v1/webhooks/{gone}", headers=acme.auth).status_code == 204

    assert forget_old_deliveries(engine, DAYS) == Forgotten(0, 1)
    assert _log(sessions) == {recent: [(kept, "pending")]}


@pytest.mark.parametrize("value", ["-1", "thirty"])
def test_a_bad_retention_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_LOG_RETENTION_DAYS"):
        Settings.from_env({"WEBHOOK_LOG_RETENTION_DAYS": value, "SECRET_KEY": "x"})
