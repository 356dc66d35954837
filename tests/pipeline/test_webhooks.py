"""Webhooks end to end with the session's real worker and beat
(docs/architecture.md#webhooks-the-outbox-and-delivery): uploads decided by
the Code Generator reach real receivers on 127.0.0.1, verified with the
`standardwebhooks` library, exactly once per subscribed endpoint; a
receiver that fails twice gets the message on the third attempt with the
same webhook-id. The beat looks for due deliveries every second and the
session's settings try a failure again a second later (tests/conftest.py)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import Tenant
from tests.events.receiver import receiver
from tests.pipeline.conftest import WorkerProcesses, txt, upload, wait_decided


def register(client: FlaskClient, tenant: Tenant, url: str, *events: str) -> dict[str, Any]:
    created = client.post("/api/v1/webhooks", json={"url": url, "events": list(events)}, headers=tenant.auth)
    assert created.status_code == 201, created.get_json()
    body: dict[str, Any] = created.get_json()
    return body


def test_a_completed_and_a_rejected_upload_reach_each_subscribed_endpoint_once(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    acme = make_tenant("Acme", (1,))
    with receiver("/one") as one, receiver("/two") as two, receiver("/other") as other:
        first = register(client, acme, one.url, "upload.completed", "upload.rejected")
        second = register(client, acme, two.url, "upload.completed", "upload.rejected")
        register(client, acme, other.url, "stock.low")
        good = upload(client, acme, 1, txt("1\tHOOK-1", "1\tHOOK-2")).get_json()["id"]
        bad = upload(client, acme, 1, txt("1\tHOOK 3")).get_json()["id"]
        assert wait_decided(client, acme, good)["status"] == "completed"
        assert wait_decided(client, acme, bad)["status"] == "rejected"

        one.wait_for(2)
        two.wait_for(2)
        time.sleep(2)  # two more rounds of the beat: nothing else comes

    for hooks, endpoint in ((one, first), (two, second)):
        events = {event["type"]: event["data"] for event in hooks.verified(endpoint["secret"])}
        assert len(hooks.received) == 2
        assert (events["upload.completed"]["id"], events["upload.completed"]["code_count"]) == (good, 2)
        assert (events["upload.rejected"]["id"], events["upload.rejected"]["reason_code"]) == (bad, "format")
        assert "errors" not in events["upload.rejected"]
    assert other.received == []
    assert {h.headers["webhook-id"] for h in one.received} == {h.headers["webhook-id"] for h in two.received}
    # The product's target is a median under a second from decision to delivery; printed with -s.
    delays = sorted(
        h.at - datetime.fromisoformat(h.json["data"]["finished_at"]).timestamp() for h in one.received + two.received
    )
    print(f"\nfrom decision to delivery: {', '.join(f'{d:.2f} s' for d in delays)}")


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt_with_the_same_id(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    acme = make_tenant("Acme", (1,))
    with receiver() as hooks:
        hooks.answers = [500, "hang"]  # an error, then no answer within the timeout
        endpoint = register(client, acme, hooks.url, "upload.completed")
        request_id = upload(client, acme, 1, txt("1\tRETRY-1")).get_json()["id"]
        assert wait_decided(client, acme, request_id)["status"] == "completed"

        received = hooks.wait_for(3, timeout=60)
        time.sleep(2)

    assert len(hooks.received) == 3, received
    assert len({one.headers["webhook-id"] for one in hooks.received}) == 1
    assert hooks.verifies(endpoint["secret"], hooks.received[2])
    log = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=acme.auth).get_json()["items"]
    assert [(d["status"], d["attempts"]) for d in log] == [("succeeded", 3)]
    assert endpoint["secret"].removeprefix("whsec_") not in workers.log()  # secrets never appear in logs


def test_a_decision_wakes_the_delivery_at_once_rather_than_waiting_for_the_beat(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    acme = make_tenant("Acme", (1,))
    logged_before = len(workers.log())  # request ids start again at 1 in each test
    with receiver() as hooks:
        register(client, acme, hooks.url, "upload.completed")
        request_id = upload(client, acme, 1, txt("1\tWAKE-1")).get_json()["id"]
        assert wait_decided(client, acme, request_id)["status"] == "completed"
        hooks.wait_for(1)
        woken = f"woken by the decision of upload {request_id}:"
        deadline = time.monotonic() + 10
        while woken not in workers.log()[logged_before:] and time.monotonic() < deadline:
            time.sleep(0.1)

    assert len(hooks.received) == 1
    assert woken in workers.log()[logged_before:]


def test_an_upload_with_no_endpoint_to_send_to_wakes_nothing(
    client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    acme = make_tenant("Acme", (1,))
    logged_before = len(workers.log())  # request ids start again at 1 in each test
    request_id = upload(client, acme, 1, txt("1\tNO-HOOK-1")).get_json()["id"]
    assert wait_decided(client, acme, request_id)["status"] == "completed"
    time.sleep(1)

    logged = workers.log()[logged_before:]
    assert f"upload {request_id}: completed" in logged
    assert f"woken by the decision of upload {request_id}:" not in logged
