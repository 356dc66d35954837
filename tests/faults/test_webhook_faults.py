"""Webhooks under faults (docs/architecture.md#webhooks-the-outbox-and-delivery):
Redis stopped while deliveries are being retried, and a worker killed in
the middle of an attempt. Every event still reaches the receiver, signed,
with the webhook-id it had from the start."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import Settings
from shared.embedded import postgres, redis
from tests import conftest as suite
from tests.conftest import TEST_DATA_DIR
from tests.events.receiver import Receiver, receiver
from tests.faults.conftest import Faults

# A hung receiver keeps the worker in its attempt for up to 3 s: long enough to kill it there.
TIMEOUT_SECONDS = 3
# Enough codes that the worker is still processing when Redis stops.
DECIDED_CODES = 40_000


@pytest.fixture
def fault_environ() -> dict[str, str]:
    return {"WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def subscribe(faults: Faults, hooks: Receiver) -> dict[str, Any]:
    body = {"url": hooks.url, "events": ["upload.completed"]}
    created = faults.client.post("/api/v1/webhooks", json=body, headers=faults.tenant.auth)
    assert created.status_code == 201, created.get_json()
    endpoint: dict[str, Any] = created.get_json()
    return endpoint


def delivered_ids(hooks: Receiver, secret: str) -> list[str]:
    """The webhook-id of each message the receiver answered 2xx, each verified."""
    return [one.headers["webhook-id"] for one in hooks.received if hooks.verifies(secret, one)]


@pytest.fixture
def embedded_redis() -> None:
    """A trial that restarts Redis can only restart the embedded one."""
    configured = Settings.from_env(suite.test_environ())
    if configured.database_url or configured.redis_url:
        pytest.skip("this trial restarts the embedded Redis; REDIS_URL points elsewhere")


@pytest.mark.usefixtures("embedded_redis")
@pytest.mark.parametrize("trial", range(3))
def test_redis_stopped_while_deliveries_are_retried(faults: Faults, hooks: Receiver, trial: int) -> None:
    faults.rng.seed(900 + trial)
    faults.worker("webhooks-through-outage")
    endpoint = subscribe(faults, hooks)
    hooks.answers = [500, 500, 500]  # the first attempts fail: retries span the outage
    uploads = [faults.upload(10) for _ in range(3)]
    for one in uploads:
        faults.decided(one)
    hooks.wait_for(1)
    try:
        redis.stop(TEST_DATA_DIR / "redis")
        time.sleep(faults.rng.uniform(1, 3))
    finally:
        redis.ensure_running(TEST_DATA_DIR / "redis")
        postgres.ensure_running(TEST_DATA_DIR / "postgres")

    deadline = time.monotonic() + 60
    while len(hooks.received) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)

    received = [one.headers["webhook-id"] for one in hooks.received]
    assert len(set(received)) == 3 and len(received) == 6, received  # three failed, then each once
    assert all(hooks.verifies(endpoint["secret"], one) for one in hooks.received)
    sent_for = {one.json["data"]["id"] for one in hooks.received}
    assert sent_for == {one.request_id for one in uploads}


@pytest.mark.usefixtures("embedded_redis")
@pytest.mark.parametrize("trial", range(3))
def test_redis_stopped_while_a_request_is_decided(faults: Faults, hooks: Receiver, trial: int) -> None:
    """The decision commits its event to the outbox with Redis away; beat's
    first message after Redis returns has it delivered."""
    faults.rng.seed(950 + trial)
    faults.worker("deciding-through-outage")
    endpoint = subscribe(faults, hooks)
    deciding = faults.upload(DECIDED_CODES)
    faults.wait_for(deciding.request_id, ("processing",))
    try:
        redis.stop(TEST_DATA_DIR / "redis")
        faults.decided(deciding)
        time.sleep(faults.rng.uniform(0.5, 2))
    finally:
        redis.ensure_running(TEST_DATA_DIR / "redis")
        postgres.ensure_running(TEST_DATA_DIR / "postgres")

    hooks.wait_for(1, timeout=60)
    time.sleep(1)  # a second delivery of the same event would come now
    assert delivered_ids(hooks, endpoint["secret"]) == [one.headers["webhook-id"] for one in hooks.received]
    (sent,) = {one.json["data"]["id"] for one in hooks.received}
    assert sent == deciding.request_id
    assert {one.json["type"] for one in hooks.received} == {"upload.completed"}
    assert len({one.headers["webhook-id"] for one in hooks.received}) == 1
    faults.check(deciding)


@pytest.mark.parametrize("trial", range(3))
def test_a_worker_killed_mid_attempt_leaves_the_delivery_to_another(
    faults: Faults, hooks: Receiver, trial: int
) -> None:
    first = faults.worker("killed-mid-attempt")
    endpoint = subscribe(faults, hooks)
    hooks.answers, hooks.hang_seconds = ["hang"], TIMEOUT_SECONDS - 0.5
    faults.decided(faults.upload(10))
    hooks.wait_for(1)  # the worker is waiting for the hung receiver

    first.kill()
    faults.worker("takes-over")

    # The claim of the dead attempt runs out (timeout + the margin), then the other worker sends it again.
    hooks.wait_for(2, timeout=60)
    ids = [one.headers["webhook-id"] for one in hooks.received]
    assert len(ids) == 2 and len(set(ids)) == 1, ids
    assert delivered_ids(hooks, endpoint["secret"]) == ids
    log = faults.client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=faults.tenant.auth)
    deadline = time.monotonic() + 10
    while log.get_json()["items"][0]["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
        log = faults.client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=faults.tenant.auth)
    assert log.get_json()["items"][0]["status"] == "succeeded"
