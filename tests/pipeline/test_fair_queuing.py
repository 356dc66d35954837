"""Fairness between publishers (docs/architecture.md#fair-queuing): a
worker woken by a message claims the queued request of that queue whose
publisher has the fewest requests in progress, so one publisher's flood
never holds every worker while another publisher's request waits."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import states
from shared.broker import BULK_BYTES
from shared.config import Settings
from shared.models import UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import WorkerProcesses, at_once, queued_request, txt, upload, wait_decided

PRODUCT = 1234
OTHER_PRODUCT = 5678


def claim_through(sessions: sessionmaker[Session], settings: Settings, named: int) -> int | None:
    """What a worker woken by the message of `named` claims."""
    with sessions.begin() as session:
        held = states.claim(session, named, settings.lease_seconds)
    return None if held is None else held.request_id


def test_a_message_claims_for_the_publisher_with_the_fewest_requests_in_progress(
    sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    flood, other = make_tenant("flood", (PRODUCT,)), make_tenant("other", (OTHER_PRODUCT,))
    floods = [queued_request(sessions, flood, txt(f"{PRODUCT}\tF{n}")) for n in range(4)]
    waiting = queued_request(sessions, other, txt(f"{OTHER_PRODUCT}\tO1"))

    # Nobody has anything in progress: a message claims its own request.
    assert claim_through(sessions, settings, floods[0]) == floods[0]
    # The flood has one in progress, the other publisher none: its request goes first,
    # whichever message woke the worker.
    assert claim_through(sessions, settings, floods[1]) == waiting
    # One each in progress: the message's own request again.
    assert claim_through(sessions, settings, floods[3]) == floods[3]
    # A message whose request was taken takes one still waiting, oldest first, so none is left without a worker.
    assert claim_through(sessions, settings, waiting) == floods[1]
    assert claim_through(sessions, settings, floods[1]) == floods[2]
    assert claim_through(sessions, settings, floods[2]) is None
    with sessions() as session:
        statuses = session.scalars(select(UploadRequest.status).order_by(UploadRequest.id)).all()
    assert statuses == ["processing"] * 5


def test_a_message_claims_the_fairest_request_of_its_own_queue_never_one_of_the_other(
    sessions: sessionmaker[Session], settings: Settings, make_tenant: Any
) -> None:
    """Small and bulk requests have workers of their own (shared/broker.py):
    a small request's message taking a bulk request would hold a small-file
    worker with a large file."""
    flood, other = make_tenant("flood", (PRODUCT,)), make_tenant("other", (OTHER_PRODUCT,))
    busy = queued_request(sessions, flood, txt(f"{PRODUCT}\tBUSY"))
    assert claim_through(sessions, settings, busy) == busy
    small = queued_request(sessions, flood, txt(f"{PRODUCT}\tSMALL"))
    large = txt(*(f"{OTHER_PRODUCT}\tBULK-{n:09d}" for n in range(BULK_BYTES // 20)))
    assert len(large) > BULK_BYTES
    bulk = queued_request(sessions, other, large)
    others_small = queued_request(sessions, other, txt(f"{OTHER_PRODUCT}\tOTHER-SMALL"))

    # The other publisher has none in progress: its small request, not its older bulk one.
    assert claim_through(sessions, settings, small) == others_small
    assert claim_through(sessions, settings, small) == small
    assert claim_through(sessions, settings, small) is None
    assert claim_through(sessions, settings, bulk) == bulk


FLOOD_FILES = 8


def test_another_publishers_one_line_upload_is_decided_within_2_s_of_eight_1_mb_files_of_blank_lines(
    app: Flask, client: FlaskClient, make_tenant: Any, workers: WorkerProcesses
) -> None:
    flood: Tenant = make_tenant("flood", (PRODUCT,))
    other: Tenant = make_tenant("other", (OTHER_PRODUCT,))
    blank = b"\r\n" * 500_000  # 1,000,000 bytes: the small-file queue's largest
    assert len(blank) <= BULK_BYTES

    # Each upload on a test client of its own: they run at once, in threads.
    sent: list[Any] = at_once(*[lambda: upload(app.test_client(), flood, PRODUCT, blank, "blank.txt")] * FLOOD_FILES)
    assert [response.status_code for response in sent] == [202] * FLOOD_FILES
    started = time.monotonic()
    response = upload(client, other, OTHER_PRODUCT, txt(f"{OTHER_PRODUCT}\tONE-LINE"))
    decided = wait_decided(client, other, response.get_json()["id"], timeout=120)
    took = time.monotonic() - started
    floods = [wait_decided(client, flood, response.get_json()["id"], timeout=300) for response in sent]
    later = sum(1 for flooded in floods if flooded["started_at"] > decided["started_at"])
    print(f"\nthe other line: decided in {took:.2f} s; {later} of {FLOOD_FILES} flood files started after it")

    assert decided["status"] == "completed"
    assert {(flooded["status"], flooded["reason_code"]) for flooded in floods} == {("rejected", "blank_line")}
    assert took < 2, f"decided {took:.2f} s after its POST"
