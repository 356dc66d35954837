"""Delivering the outbox to a real receiver on 127.0.0.1, which verifies
each message with the `standardwebhooks` library: the signature, retries
with the same webhook-id, 410 and three days of failures disabling the
endpoint, rotation, replay, the address checked again at delivery, and a
race trial of the claim. The delivery runs in this process
(shared.events.deliveries.deliver_due, as the task runs it); the session's
settings allow private networks and shorten the timeout and the schedule
to a second (tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings, WebhookSettings
from shared.events import deliveries, secrets
from tests.conftest import Tenant
from tests.events.receiver import Receiver, receiver
from tests.pipeline.conftest import at_once


def register(client: FlaskClient, tenant: Tenant, url: str) -> dict[str, Any]:
    body = {"url": url, "events": ["upload.completed"]}
    created: dict[str, Any] = client.post("/api/v1/webhooks", json=body, headers=tenant.auth).get_json()
    return created


def send_test(client: FlaskClient, tenant: Tenant, endpoint_id: int) -> str:
    sent = client.post(f"/api/v1/webhooks/{endpoint_id}/test", headers=tenant.auth)
    assert sent.status_code == 202, sent.get_json()
    message_id: str = sent.get_json()["message_id"]
    return message_id


def deliver(sessions: sessionmaker[Session], settings: Settings, policy: WebhookSettings | None = None) -> int:
    return deliveries.deliver_due(sessions, policy or settings.webhooks, settings.secret_key, 10).attempts


def deliver_until(
    sessions: sessionmaker[Session], settings: Settings, hooks: Receiver, count: int, timeout: float = 20
) -> None:
    deadline = time.monotonic() + timeout
    while len(hooks.received) < count and time.monotonic() < deadline:
        deliver(sessions, settings)
        time.sleep(0.1)


def log_of(client: FlaskClient, tenant: Tenant, endpoint_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(
        f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=tenant.auth
    ).get_json()["items"]
    return items


def test_a_message_arrives_signed_as_the_standard_says(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url)
        message_id = send_test(client, acme, endpoint["id"])

        assert deliver(sessions, settings) == 1

    (got,) = hooks.received
    (verified,) = hooks.verified(endpoint["secret"])
    assert got.headers["webhook-id"] == message_id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 10
    assert got.headers["Content-Type"] == "application/json"
    assert set(verified) == {"type", "timestamp", "data"}
    assert verified["type"] == "webhook.test" and verified["data"]["endpoint_id"] == endpoint["id"]
    (logged,) = log_of(client, acme, endpoint["id"])
    assert (logged["status"], logged["attempts"], logged["last_status_code"], logged["next_attempt_at"]) == (
        "succeeded",
        1,
        200,
        None,
    )
    assert [(a["status_code"], a["response"], a["error"]) for a in logged["attempt_log"]] == [(200, "ok", None)]


def test_a_failing_receiver_gets_the_message_again_with_the_same_webhook_id(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        hooks.answers = [500, "hang"]
        endpoint = register(client, acme, hooks.url)
        send_test(client, acme, endpoint["id"])

        deliver_until(sessions, settings, hooks, 3)

    first, second, third = hooks.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert first.body == second.body == third.body
    assert hooks.verifies(endpoint["secret"], third)
    (logged,) = log_of(client, acme, endpoint["id"])
    assert (logged["status"], logged["attempts"]) == ("succeeded", 3)
    codes = [a["status_code"] for a in reversed(logged["attempt_log"])]
    assert codes[0] == 500 and codes[2] == 200
    assert "timed out" in (logged["attempt_log"][1]["error"] or "").lower() or codes[1] is None


def test_a_410_disables_the_endpoint_at_once(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        hooks.answers = [410]
        endpoint = register(client, acme, hooks.url)
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings)
        time.sleep(1.2)
        deliver(sessions, settings)

    assert len(hooks.received) == 1
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=acme.auth).get_json()
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "the endpoint answered 410 Gone")
    assert log_of(client, acme, endpoint["id"])[0]["status"] == "failed"
    assert client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=acme.auth).status_code == 409


def test_failing_past_the_give_up_time_disables_the_endpoint_with_the_reason(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    policy = dataclasses.replace(settings.webhooks, give_up_seconds=1)
    with receiver() as hooks:
        hooks.answers = [503] * 5
        endpoint = register(client, acme, hooks.url)
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings, policy)
        assert log_of(client, acme, endpoint["id"])[0]["status"] == "pending"
        time.sleep(1.2)
        deliver(sessions, settings, policy)

    assert len(hooks.received) == 2
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=acme.auth).get_json()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("deliveries failed for")
    assert "503" in shown["disabled_reason"]
    assert log_of(client, acme, endpoint["id"])[0]["status"] == "failed"


def test_after_a_rotation_both_secrets_verify(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url)
        rotated = client.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=acme.auth).get_json()
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings)

    (got,) = hooks.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert hooks.verifies(endpoint["secret"], got)
    assert hooks.verifies(rotated["secret"], got)


def test_the_old_secret_stops_signing_when_its_day_is_over(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url)
        rotated = client.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=acme.auth).get_json()
        with sessions.begin() as session:
            session.execute(text("UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'"))
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings)

    (got,) = hooks.received
    assert hooks.verifies(rotated["secret"], got)
    assert not hooks.verifies(endpoint["secret"], got)


def test_a_replay_sends_the_message_again_with_its_id(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url)
        message_id = send_test(client, acme, endpoint["id"])
        deliver(sessions, settings)

        replayed = client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{message_id}/replay", headers=acme.auth)
        deliver(sessions, settings)

    assert replayed.status_code == 202
    assert [one.headers["webhook-id"] for one in hooks.received] == [message_id, message_id]
    missing = client.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/msg_none/replay", headers=acme.auth)
    assert missing.status_code == 404
    (logged,) = log_of(client, acme, endpoint["id"])
    assert (logged["status"], logged["attempts"], len(logged["attempt_log"])) == ("succeeded", 2, 2)


def test_the_address_is_checked_again_at_delivery(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    """Registered while private networks were allowed, then refused: the
    delivery resolves and checks the host again, and sends nothing."""
    acme = make_tenant("Acme")
    strict = dataclasses.replace(settings.webhooks, allow_private_networks=False, http_hosts=frozenset({"localhost"}))
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url.replace("127.0.0.1", "localhost"))
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings, strict)

    assert hooks.received == []
    (logged,) = log_of(client, acme, endpoint["id"])
    assert logged["status"] == "pending"
    assert "refused: url" in logged["last_error"] and "loopback" in logged["last_error"]


def test_a_secret_sealed_under_another_server_key_fails_the_delivery_saying_so(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        endpoint = register(client, acme, hooks.url)
        with sessions.begin() as session:
            sealed = secrets.seal(secrets.new_secret(), "the SECRET_KEY before")
            session.execute(text("UPDATE webhook_endpoints SET secret = :sealed"), {"sealed": sealed})
        send_test(client, acme, endpoint["id"])

        deliver(sessions, settings)

    assert hooks.received == []
    (logged,) = log_of(client, acme, endpoint["id"])
    assert logged["status"] == "failed" and "SECRET_KEY changed" in logged["last_error"]


def test_race_40_trials_four_workers_claiming_at_once_never_take_one_delivery_twice(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    endpoints = [register(client, acme, f"https://93.184.216.{n}/hooks")["id"] for n in range(1, 11)]
    outcomes: Counter[str] = Counter()
    for _ in range(40):
        with sessions.begin() as session:
            session.execute(text("DELETE FROM webhook_messages"))
        for endpoint_id in endpoints:
            send_test(client, acme, endpoint_id)

        def claim_all() -> list[int]:
            taken = []
            while True:
                with sessions.begin() as session:
                    due = deliveries.claim_due(session, settings.webhooks, settings.secret_key)
                if due is None:
                    return taken
                taken.append(due.delivery_id)

        results = at_once(*([claim_all] * 4))
        claimed = [delivery for taken in results for delivery in taken]  # type: ignore[attr-defined]
        outcomes[
            "each claimed once" if sorted(claimed) == sorted(set(claimed)) and len(claimed) == 10 else "wrong"
        ] += 1
        outcomes["shared out"] += sum(1 for taken in results if taken) > 1  # type: ignore[arg-type]
    print(f"\nclaims of 10 due deliveries by 4 workers at once: {dict(outcomes)}")
    assert outcomes["each claimed once"] == 40
