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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings, WebhookSettings
from shared.events import deliveries, secrets
from tests.conftest import Tenant
from tests.events.receiver import ENDLESS_CHUNK, Receiver, receiver
from tests.pipeline.conftest import at_once


@dataclass
class Hooked:
    """A publisher, its endpoint at a running receiver, and the delivery."""

    client: FlaskClient
    sessions: sessionmaker[Session]
    settings: Settings
    acme: Tenant
    hooks: Receiver
    endpoint: dict[str, Any]

    @property
    def base(self) -> str:
        return f"/api/v1/webhooks/{self.endpoint['id']}"

    def send_test(self) -> str:
        sent = self.client.post(f"{self.base}/test", headers=self.acme.auth)
        assert sent.status_code == 202, sent.get_json()
        message_id: str = sent.get_json()["message_id"]
        return message_id

    def deliver(self, policy: WebhookSettings | None = None) -> int:
        policy = policy or self.settings.webhooks
        return deliveries.deliver_due(self.sessions, policy, self.settings.secret_key, 10).attempts

    def deliver_until(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.hooks.received) < count and time.monotonic() < deadline:
            self.deliver()
            time.sleep(0.1)

    def log(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client.get(f"{self.base}/deliveries", headers=self.acme.auth).get_json()[
            "items"
        ]
        return items

    def shown(self) -> dict[str, Any]:
        body: dict[str, Any] = self.client.get(self.base, headers=self.acme.auth).get_json()
        return body

    def post(self, path: str) -> Any:
        return self.client.post(f"{self.base}{path}", headers=self.acme.auth)


def register(client: FlaskClient, tenant: Tenant, url: str) -> dict[str, Any]:
    body = {"url": url, "events": ["upload.completed"]}
    created: dict[str, Any] = client.post("/api/v1/webhooks", json=body, headers=tenant.auth).get_json()
    return created


@pytest.fixture
def hooked(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> Iterator[Hooked]:
    acme = make_tenant("Acme")
    with receiver() as hooks:
        yield Hooked(client, sessions, settings, acme, hooks, register(client, acme, hooks.url))


def test_a_message_arrives_signed_as_the_standard_says(hooked: Hooked) -> None:
    message_id = hooked.send_test()

    assert hooked.deliver() == 1

    (got,) = hooked.hooks.received
    (verified,) = hooked.hooks.verified(hooked.endpoint["secret"])
    assert got.headers["webhook-id"] == message_id
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 10
    assert got.headers["Content-Type"] == "application/json"
    assert set(verified) == {"type", "timestamp", "data"}
    assert verified["type"] == "webhook.test" and verified["data"]["endpoint_id"] == hooked.endpoint["id"]
    (logged,) = hooked.log()
    assert (logged["status"], logged["attempts"], logged["last_status_code"], logged["next_attempt_at"]) == (
        "succeeded",
        1,
        200,
        None,
    )
    assert [(a["status_code"], a["response"], a["error"]) for a in logged["attempt_log"]] == [(200, "ok", None)]


def test_a_failing_receiver_gets_the_message_again_with_the_same_webhook_id(hooked: Hooked) -> None:
    hooked.hooks.answers = [500, "hang"]
    hooked.send_test()

    hooked.deliver_until(3)

    first, second, third = hooked.hooks.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    assert first.body == second.body == third.body
    assert hooked.hooks.verifies(hooked.endpoint["secret"], third)
    (logged,) = hooked.log()
    assert (logged["status"], logged["attempts"]) == ("succeeded", 3)
    newest_last = list(reversed(logged["attempt_log"]))
    assert [a["status_code"] for a in newest_last] == [500, None, 200]
    assert "timed out" in newest_last[1]["error"].lower()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(hooked: Hooked, status: int) -> None:
    """A receiver that answers with a redirect to another address (here a
    second receiver, reachable because the tests allow private networks;
    in production the cloud metadata address, say) has failed the attempt:
    nothing is sent where it points, and the message is tried again later
    at the registered URL."""
    with receiver() as elsewhere:
        hooked.hooks.answers, hooked.hooks.redirect_to = [status], elsewhere.url
        hooked.send_test()

        hooked.deliver()
        time.sleep(0.5)

        assert elsewhere.received == []
    assert len(hooked.hooks.received) == 1
    (logged,) = hooked.log()
    assert (logged["status"], logged["attempts"]) == ("pending", 1)
    assert logged["attempt_log"][0]["status_code"] == status
    assert logged["last_error"] == f"the endpoint answered {status}"


def test_a_run_waits_on_several_slow_receivers_at_once(hooked: Hooked) -> None:
    hooked.hooks.answers = ["hang"] * deliveries.SENDERS  # each held past the 1 s timeout
    for _ in range(deliveries.SENDERS):
        hooked.send_test()

    assert hooked.deliver() == deliveries.SENDERS

    arrived = [one.at for one in hooked.hooks.received]
    assert len(arrived) == deliveries.SENDERS
    # One after another, each would arrive a timeout (1 s) after the one before.
    assert max(arrived) - min(arrived) < 0.9
    assert all(d["status"] == "pending" and d["attempts"] == 1 for d in hooked.log())


def test_one_sender_sends_one_delivery_after_another(hooked: Hooked) -> None:
    hooked.hooks.answers = ["hang", "hang"]
    hooked.send_test()
    hooked.send_test()

    deliveries.deliver_due(hooked.sessions, hooked.settings.webhooks, hooked.settings.secret_key, 10, senders=1)

    # (The first may come again a second after its failure, within the run.)
    first, second = hooked.hooks.received[:2]
    assert first.headers["webhook-id"] != second.headers["webhook-id"]
    assert second.at - first.at >= 0.9


def test_an_answer_is_read_to_64_kb_at_most_and_its_first_kb_kept(hooked: Hooked) -> None:
    """A receiver whose 200 never ends has still answered: the sender stops
    reading after 64 KB, well within the timeout (1 s here), and the log
    keeps the first 1 KB of what it said."""
    hooked.hooks.answers = ["endless"]
    hooked.send_test()

    hooked.deliver()

    (logged,) = hooked.log()
    (attempt,) = logged["attempt_log"]
    assert (logged["status"], attempt["status_code"], attempt["error"]) == ("succeeded", 200, None)
    assert attempt["response"] == ENDLESS_CHUNK[:1024].decode()
    assert attempt["duration_ms"] < 1000


def test_a_410_disables_the_endpoint_at_once(hooked: Hooked) -> None:
    hooked.hooks.answers = [410]
    hooked.send_test()

    hooked.deliver()
    time.sleep(1.2)
    hooked.deliver()

    assert len(hooked.hooks.received) == 1
    shown = hooked.shown()
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "the endpoint answered 410 Gone")
    assert hooked.log()[0]["status"] == "failed"
    assert hooked.post("/test").status_code == 409


def test_failing_past_the_give_up_time_disables_the_endpoint_with_the_reason(hooked: Hooked) -> None:
    policy = dataclasses.replace(hooked.settings.webhooks, give_up_seconds=1)
    hooked.hooks.answers = [503] * 5
    hooked.send_test()

    hooked.deliver(policy)
    assert hooked.log()[0]["status"] == "pending"
    time.sleep(1.2)
    hooked.deliver(policy)

    assert len(hooked.hooks.received) == 2
    shown = hooked.shown()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("deliveries failed for")
    assert "503" in shown["disabled_reason"]
    assert hooked.log()[0]["status"] == "failed"


def test_after_a_rotation_both_secrets_verify(hooked: Hooked) -> None:
    rotated = hooked.post("/rotate-secret").get_json()
    hooked.send_test()

    hooked.deliver()

    (got,) = hooked.hooks.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert hooked.hooks.verifies(hooked.endpoint["secret"], got)
    assert hooked.hooks.verifies(rotated["secret"], got)


def test_the_old_secret_stops_signing_when_its_day_is_over(hooked: Hooked) -> None:
    rotated = hooked.post("/rotate-secret").get_json()
    with hooked.sessions.begin() as session:
        session.execute(text("UPDATE webhook_endpoints SET previous_secret_until = now() - interval '1 second'"))
    hooked.send_test()

    hooked.deliver()

    (got,) = hooked.hooks.received
    assert hooked.hooks.verifies(rotated["secret"], got)
    assert not hooked.hooks.verifies(hooked.endpoint["secret"], got)


def test_a_replay_sends_the_message_again_with_its_id(hooked: Hooked) -> None:
    message_id = hooked.send_test()
    hooked.deliver()

    replayed = hooked.post(f"/deliveries/{message_id}/replay")
    hooked.deliver()

    assert replayed.status_code == 202
    assert [one.headers["webhook-id"] for one in hooked.hooks.received] == [message_id, message_id]
    assert hooked.post("/deliveries/msg_none/replay").status_code == 404
    (logged,) = hooked.log()
    assert (logged["status"], logged["attempts"], len(logged["attempt_log"])) == ("succeeded", 2, 2)


def test_a_secret_sealed_under_another_server_key_fails_the_delivery_saying_so(hooked: Hooked) -> None:
    with hooked.sessions.begin() as session:
        sealed = secrets.seal(secrets.new_secret(), "the SECRET_KEY before")
        session.execute(text("UPDATE webhook_endpoints SET secret = :sealed"), {"sealed": sealed})
    hooked.send_test()

    hooked.deliver()

    assert hooked.hooks.received == []
    (logged,) = hooked.log()
    assert logged["status"] == "failed" and "SECRET_KEY changed" in logged["last_error"]


def test_the_address_is_checked_again_at_delivery(hooked: Hooked) -> None:
    """Registered while private networks were allowed, then refused: the
    delivery resolves and checks the host again, and sends nothing."""
    strict = dataclasses.replace(
        hooked.settings.webhooks, allow_private_networks=False, http_hosts=frozenset({"localhost"})
    )
    with hooked.sessions.begin() as session:
        session.execute(text("UPDATE webhook_endpoints SET url = replace(url, '127.0.0.1', 'localhost')"))
    hooked.send_test()

    hooked.deliver(strict)

    assert hooked.hooks.received == []
    (logged,) = hooked.log()
    assert logged["status"] == "pending"
    assert "refused: url" in logged["last_error"] and "loopback" in logged["last_error"]


def test_race_40_trials_four_workers_claiming_at_once_never_take_one_delivery_twice(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    acme = make_tenant("Acme")
    endpoints = [register(client, acme, f"https://93.184.216.{n}/hooks")["id"] for n in range(1, 11)]
    outcomes: Counter[str] = Counter()

    def claim_all() -> list[int]:
        taken = []
        while True:
            with sessions.begin() as session:
                due = deliveries.claim_due(session, settings.webhooks, settings.secret_key)
            if due is None:
                return taken
            taken.append(due.delivery_id)

    for _ in range(40):
        with sessions.begin() as session:
            session.execute(text("DELETE FROM webhook_messages"))
        for endpoint_id in endpoints:
            assert client.post(f"/api/v1/webhooks/{endpoint_id}/test", headers=acme.auth).status_code == 202

        results: list[Any] = at_once(*([claim_all] * 4))

        claimed = [delivery for taken in results for delivery in taken]
        outcomes["each claimed once" if len(claimed) == len(set(claimed)) == 10 else "wrong"] += 1
        outcomes["shared out"] += sum(1 for taken in results if taken) > 1
    print(f"\nclaims of 10 due deliveries by 4 workers at once: {dict(outcomes)}")
    assert outcomes["each claimed once"] == 40
