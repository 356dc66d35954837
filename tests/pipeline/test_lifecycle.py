"""The request's life under faults: what can be deleted, a worker that
lost its claim, a lost message, a killed worker, a claim that outlived its
lease. The races (delete against claim, batches sharing codes) are counted
over many trials in test_races.py."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import loading, states
from shared.config import Settings
from shared.errors import ClaimLost
from shared.models import LicenseCode, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import WorkerProcesses, queued_request, txt, upload, wait_decided

PRODUCT = 1234


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


def status_of(sessions: sessionmaker[Session], request_id: int) -> str:
    with sessions() as session:
        return session.get_one(UploadRequest, request_id).status


def code_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LicenseCode)) or 0


def test_only_a_queued_request_can_be_deleted(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    queued = queued_request(sessions, acme, txt("1234\tQ-1"))
    assert client.delete(f"/api/v1/uploads/{queued}", headers=acme.auth).status_code == 204
    assert client.get(f"/api/v1/uploads/{queued}", headers=acme.auth).status_code == 404
    assert client.get("/api/v1/uploads", headers=acme.auth).get_json()["total"] == 0

    processing = queued_request(sessions, acme, txt("1234\tP-1"))
    with sessions.begin() as session:
        assert states.claim(session, processing, settings.lease_seconds) is not None
    refused = client.delete(f"/api/v1/uploads/{processing}", headers=acme.auth)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "conflict")
    assert status_of(sessions, processing) == "processing"


@pytest.mark.usefixtures("workers")
def test_a_completed_request_cannot_be_deleted(client: FlaskClient, acme: Tenant) -> None:
    created = upload(client, acme, PRODUCT, txt("1234\tC-1")).get_json()
    assert wait_decided(client, acme, created["id"])["status"] == "completed"
    assert client.delete(f"/api/v1/uploads/{created['id']}", headers=acme.auth).status_code == 409


def test_a_worker_that_lost_its_claim_changes_nothing(
    sessions: sessionmaker[Session], acme: Tenant, settings: Settings
) -> None:
    request_id = queued_request(sessions, acme, txt("1234\tFENCED"))
    with sessions.begin() as session:
        stale = states.claim(session, request_id, settings.lease_seconds)
        assert stale is not None
        # The sweep gave the request to another worker meanwhile.
        session.execute(update(UploadRequest).where(UploadRequest.id == request_id).values(lease_until=func.now()))
    with sessions.begin() as session:
        assert [moved[:2] for moved in states.release_expired_claims(session)] == [(request_id, "queued")]
        fresh = states.claim(session, request_id, settings.lease_seconds)
        assert fresh is not None
    with pytest.raises(ClaimLost):
        loading.decide(sessions.kw["bind"], stale, settings.lease_seconds)
    assert code_count(sessions) == 0
    assert status_of(sessions, request_id) == "processing"
    assert loading.decide(sessions.kw["bind"], fresh, settings.lease_seconds) == "completed"
    assert code_count(sessions) == 1


@pytest.mark.usefixtures("workers")
def test_a_request_whose_message_was_lost_is_decided_by_the_sweep(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    request_id = queued_request(sessions, acme, txt("1234\tLOST-1", "1234\tLOST-2"), enqueued=False)
    decided = wait_decided(client, acme, request_id, timeout=30)
    assert (decided["status"], decided["code_count"]) == ("completed", 2)


def test_a_worker_killed_mid_request_leaves_no_codes_and_the_request_completes_once(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], workers: WorkerProcesses
) -> None:
    lines = [f"1234\tKILL-{n:07d}-XXXXXXXXXXXX\t30\t1\t2" for n in range(400_000)]
    response = upload(client, acme, PRODUCT, txt(*lines))
    assert response.status_code == 202, response.get_data(as_text=True)
    created = response.get_json()
    deadline = time.monotonic() + 30
    while status_of(sessions, created["id"]) != "processing" and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # into the COPY or the insert, where the worker may be idle waiting for PostgreSQL
    for child in workers.pool_children():  # whichever holds the claim
        child.kill()
    assert code_count(sessions) == 0

    decided = wait_decided(client, acme, created["id"], timeout=120)
    assert (decided["status"], decided["code_count"]) == ("completed", 400_000)
    assert code_count(sessions) == 400_000
    with sessions() as session:
        assert session.get_one(UploadRequest, created["id"]).attempts >= 2


@pytest.mark.usefixtures("workers")
def test_another_publishers_requests_codes_and_downloads_respond_404(
    client: FlaskClient, acme: Tenant, make_tenant: Any
) -> None:
    other = make_tenant("other", (5678,))
    created = upload(client, acme, PRODUCT, txt("1234\tPRIVATE")).get_json()
    assert wait_decided(client, acme, created["id"])["status"] == "completed"
    for path in (
        f"/api/v1/uploads/{created['id']}",
        f"/api/v1/uploads/{created['id']}/codes.txt",
        f"/api/v1/products/{PRODUCT}/codes",
    ):
        assert client.get(path, headers=other.auth).status_code == 404, path
    assert client.delete(f"/api/v1/uploads/{created['id']}", headers=other.auth).status_code == 404
    assert client.get("/api/v1/uploads", headers=other.auth).get_json()["total"] == 0
    assert client.get(f"/api/v1/uploads?product_id={PRODUCT}", headers=other.auth).get_json()["total"] == 0


def test_finished_at_is_when_the_decision_was_written_not_when_the_transaction_began(
    sessions: sessionmaker[Session], acme: Tenant, settings: Settings
) -> None:
    request_id = queued_request(sessions, acme, txt("1234\tSLOW"))
    with sessions.begin() as session:
        held = states.claim(session, request_id, settings.lease_seconds)
    assert held is not None
    with sessions.begin() as session:
        began = session.scalar(select(func.now()))
        session.execute(select(func.pg_sleep(0.3)))
        assert states.complete(session, held, code_count=1)
    with sessions() as session:
        finished = session.get_one(UploadRequest, request_id).finished_at
    assert finished is not None and began is not None
    assert (finished - began).total_seconds() >= 0.3


@pytest.mark.parametrize("holds_the_request_row", [False, True])
def test_the_sweep_ends_the_database_session_of_a_claim_that_outlived_its_lease(
    sessions: sessionmaker[Session], acme: Tenant, settings: Settings, holds_the_request_row: bool
) -> None:
    """`holds_the_request_row`: the worker was paused between marking the
    request decided and its commit, so its transaction locks the row itself."""
    request_id = queued_request(sessions, acme, txt("1234\tHUNG"))
    with sessions.begin() as session:
        held = states.claim(session, request_id, settings.lease_seconds)
        assert held is not None
    engine = sessions.kw["bind"]
    hung = engine.connect()  # a worker's connection, its worker paused during its transaction
    with hung.begin():
        assert states.record_backend(hung, held)
    hung.begin()
    bystander = engine.connect()  # any other session stays
    bystander.begin()
    with sessions.begin() as session:
        session.execute(update(UploadRequest).where(UploadRequest.id == request_id).values(lease_until=func.now()))
    if holds_the_request_row:
        hung.execute(select(UploadRequest.id).where(UploadRequest.id == request_id).with_for_update())
    with sessions.begin() as session:
        released = [moved[:2] for moved in states.release_expired_claims(session)]
    # No worker's sweep can come first: this test does not use the workers,
    # so it runs before they start (tests/conftest.py).
    assert released == [(request_id, "queued")]
    with pytest.raises(OperationalError):
        hung.execute(text("SELECT 1"))
    assert bystander.execute(text("SELECT 1")).scalar() == 1
    hung.invalidate()
    hung.close()
    bystander.close()
