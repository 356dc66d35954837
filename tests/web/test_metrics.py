"""GET /metrics against the real app, PostgreSQL and Redis: the figures
follow the requests as they are created and decided, the sweep counts
come from Redis, and the page holds counts only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from shared import loading, states
from shared.broker import redis_client
from shared.config import Settings
from shared.sweep_counts import record_sweep
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt

PRODUCT = 4321
SECRET_CODE = "SECRET-CODE-0001"


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


def scrape(client: FlaskClient, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def decide(engine: Engine, sessions: sessionmaker[Session], request_id: int, settings: Settings) -> str:
    """What a worker does, in this process: claim, then the Code Generator."""
    with sessions.begin() as session:
        held = states.claim(session, request_id, settings.lease_seconds)
    assert held is not None
    return loading.decide(engine, held, settings.lease_seconds)


@contextmanager
def overdue_delivery(sessions: sessionmaker[Session], minutes: int) -> Iterator[None]:
    """Every pending delivery due `minutes` ago, as if no worker served the
    queue, and held so that none takes it meanwhile: a worker of the test
    session (tests/pipeline) would claim it within a second (SKIP LOCKED
    skips a locked row; reading it waits for nothing)."""
    with sessions() as holder:
        holder.execute(
            text("""UPDATE webhook_deliveries SET claim_token = NULL,
                        next_attempt_at = now() - make_interval(mins => :minutes) WHERE status = 'pending'"""),
            {"minutes": minutes},
        )
        holder.commit()
        holder.execute(text("SELECT id FROM webhook_deliveries WHERE status = 'pending' FOR UPDATE")).all()
        yield
        holder.rollback()


def test_an_empty_service(client: FlaskClient, settings: Settings) -> None:
    samples = scrape(client)
    for status in ("queued", "processing", "completed", "rejected", "deleted"):
        assert value(samples, "licensecodes_requests", status=status) == 0
    assert value(samples, "licensecodes_oldest_pending_age_seconds") == 0
    assert value(samples, "licensecodes_overdue_requests") == 0
    assert value(samples, "licensecodes_processing_window_seconds") == settings.processing_window_minutes * 60
    assert value(samples, "licensecodes_codes_stored") == 0
    assert value(samples, "licensecodes_decisions_last_hour", outcome="completed", reason_code="") == 0
    assert value(samples, "licensecodes_decision_seconds_count") == 0
    assert value(samples, "licensecodes_processing_seconds_bucket", le="+Inf") == 0
    for status in ("pending", "succeeded", "failed"):
        assert value(samples, "licensecodes_webhook_deliveries", status=status) == 0
    assert value(samples, "licensecodes_webhook_oldest_due_age_seconds") == 0
    assert value(samples, "licensecodes_webhook_endpoints_disabled") == 0


def test_webhook_figures_follow_the_outbox(
    client: FlaskClient, sessions: sessionmaker[Session], settings: Settings, acme: Tenant
) -> None:
    def hook(url: str) -> int:
        made = client.post("/api/v1/webhooks", json={"url": url, "events": ["stock.low"]}, headers=acme.auth)
        assert made.status_code == 201, made.get_json()
        return int(made.get_json()["id"])

    # Nothing listens at port 9: every delivery stays pending, whoever tries it.
    endpoints = [hook(f"http://127.0.0.1:9/{n}") for n in range(3)]
    for endpoint in endpoints:
        assert client.post(f"/api/v1/webhooks/{endpoint}/test", headers=acme.auth).status_code == 202
    with sessions.begin() as session:
        finished = "status = :status, next_attempt_at = NULL, finished_at = now()"
        for endpoint, status in zip(endpoints[1:], ("succeeded", "failed"), strict=True):
            session.execute(
                text(f"UPDATE webhook_deliveries SET {finished} WHERE endpoint_id = :endpoint"),
                {"status": status, "endpoint": endpoint},
            )
    assert (
        client.patch(f"/api/v1/webhooks/{endpoints[2]}", json={"enabled": False}, headers=acme.auth).status_code == 200
    )

    with overdue_delivery(sessions, minutes=5):
        samples = scrape(client)

    assert [
        value(samples, "licensecodes_webhook_deliveries", status=s) for s in ("pending", "succeeded", "failed")
    ] == [
        1,
        1,
        1,
    ]
    assert 5 * 60 <= value(samples, "licensecodes_webhook_oldest_due_age_seconds") < 6 * 60
    assert value(samples, "licensecodes_webhook_endpoints_disabled") == 1


def test_figures_follow_the_requests(
    client: FlaskClient, sessions: sessionmaker[Session], engine: Engine, settings: Settings, acme: Tenant
) -> None:
    good = queued_request(sessions, acme, txt(f"{PRODUCT}\t{SECRET_CODE}", f"{PRODUCT}\tSECRET-CODE-0002"))
    bad = queued_request(sessions, acme, txt(f"{PRODUCT}\tSECRET-CODE-0003", ""))  # a blank line
    waiting = queued_request(sessions, acme, txt(f"{PRODUCT}\tSECRET-CODE-0004"))
    with sessions.begin() as session:
        # Uploaded 15 minutes ago, its deadline passed: the alerts' two cases.
        session.execute(
            text("UPDATE upload_requests SET created_at = now() - interval '15 minutes' WHERE id = :id"),
            {"id": waiting},
        )
        session.execute(
            text("UPDATE upload_requests SET deadline_at = now() - interval '1 second' WHERE id = :id"), {"id": bad}
        )

    samples = scrape(client)
    assert value(samples, "licensecodes_requests", status="queued") == 3
    assert value(samples, "licensecodes_overdue_requests") == 1
    assert 15 * 60 <= value(samples, "licensecodes_oldest_pending_age_seconds") < 16 * 60

    assert decide(engine, sessions, good, settings) == "completed"
    assert decide(engine, sessions, bad, settings) == "rejected"

    samples = scrape(client)
    assert value(samples, "licensecodes_requests", status="queued") == 1
    assert value(samples, "licensecodes_requests", status="completed") == 1
    assert value(samples, "licensecodes_requests", status="rejected") == 1
    assert value(samples, "licensecodes_overdue_requests") == 0  # the overdue one is decided now
    assert value(samples, "licensecodes_codes_stored") == 2
    for window in ("last_minute", "last_hour"):
        name = f"licensecodes_decisions_{window}"
        assert value(samples, name, outcome="completed", reason_code="") == 1
        assert value(samples, name, outcome="rejected", reason_code="blank_line") == 1
    for histogram in ("licensecodes_processing_seconds", "licensecodes_decision_seconds"):
        assert value(samples, f"{histogram}_count") == 2
        assert value(samples, f"{histogram}_bucket", le="+Inf") == 2
        assert value(samples, f"{histogram}_bucket", le="1200.0") == 2
        assert value(samples, f"{histogram}_sum") > 0

    with sessions.begin() as session:
        states.delete(session, acme.publisher_id, waiting)
    samples = scrape(client)
    assert value(samples, "licensecodes_requests", status="deleted") == 1
    assert value(samples, "licensecodes_oldest_pending_age_seconds") == 0
    assert value(samples, "licensecodes_decision_seconds_count") == 2  # a deletion is no decision


def test_sweep_counts_come_from_redis(client: FlaskClient, settings: Settings) -> None:
    assert settings.redis_url is not None
    before = scrape(client)
    record_sweep(redis_client(settings.redis_url), {"expired_claims": 2, "failed": 1, "published": 3})
    after = scrape(client)
    # Beat may be sweeping too (tests/pipeline): its sweeps only add.
    assert value(after, "licensecodes_sweep_runs_total") >= value(before, "licensecodes_sweep_runs_total") + 1
    for name, added in (("expired_claims", 2), ("given_up", 1), ("republished", 3)):
        metric = f"licensecodes_sweep_{name}_total"
        assert value(after, metric) >= value(before, metric) + added


def test_counts_only_no_publisher_data(
    client: FlaskClient, sessions: sessionmaker[Session], engine: Engine, settings: Settings, acme: Tenant
) -> None:
    decide(engine, sessions, queued_request(sessions, acme, txt(f"{PRODUCT}\t{SECRET_CODE}")), settings)
    page = client.get("/metrics").get_data(as_text=True)
    for secret in (SECRET_CODE, acme.api_key, acme.name, acme.email, "f.txt", str(PRODUCT)):
        assert secret not in page


def test_needs_no_login_key_nor_rate_allowance(settings: Settings, sessions: sessionmaker[Session]) -> None:
    from web import create_app

    stingy = create_app(dataclasses.replace(settings, api_calls_per_minute_per_key=1))
    client = stingy.test_client()
    for _ in range(3):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert "licensecodes_requests" in response.get_data(as_text=True)


def test_with_a_token_only_the_token_reads_it(settings: Settings, sessions: sessionmaker[Session]) -> None:
    from web import create_app

    client = create_app(dataclasses.replace(settings, metrics_token="scrape-token-1")).test_client()
    refused = [
        client.get("/metrics"),
        client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
        client.get("/metrics", headers={"Authorization": "Basic scrape-token-1"}),
    ]
    for response in refused:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "licensecodes_" not in response.get_data(as_text=True)
    assert "licensecodes_requests" in scrape(client, Authorization="Bearer scrape-token-1").__repr__()
