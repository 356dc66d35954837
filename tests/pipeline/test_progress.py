"""Processing progress (docs/product.md#processing): the lease
thread's writes against the real database, fenced by the claim, and a large
file watched through the API, the request list and the request page while
the real worker checks it."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import schemathesis
from flask.testing import FlaskClient
from sqlalchemy import func, update
from sqlalchemy.orm import Session, sessionmaker

from shared import states
from shared.config import Settings
from shared.errors import ClaimLost
from shared.loading.lease import LeaseKeeper
from shared.loading.progress import Progress
from shared.models import UploadRequest
from tests.conftest import Tenant
from tests.e2e.processes import wait_until
from tests.pipeline.conftest import DECIDED, large_csv, queued_request, txt, upload
from tests.pipeline.test_screens import COLUMNS, TABLE, page, words
from tests.web.test_login import post_login
from web.openapi import document

PRODUCT = 1234
# Enough CSV rows that reading them takes the worker several of the lease
# thread's one-second ticks (about 3.5 s on a 2-core test machine).
LARGE_FILE_LINES = 1_000_000


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    """A publisher with product 1234, logged in to the screens too."""
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def checked(sessions: sessionmaker[Session], request_id: int) -> tuple[int | None, int | None]:
    with sessions() as session:
        request = session.get_one(UploadRequest, request_id)
        return request.lines_checked, request.bytes_checked


def claimed(sessions: sessionmaker[Session], tenant: Tenant, settings: Settings) -> states.Claim:
    request_id = queued_request(sessions, tenant, txt("1234\tPROGRESS-1"))
    with sessions.begin() as session:
        held = states.claim(session, request_id, settings.lease_seconds)
    assert held is not None
    return held


def taken_over(sessions: sessionmaker[Session], held: states.Claim, settings: Settings) -> states.Claim:
    """The sweep gives the request to another worker: `held` is stale."""
    with sessions.begin() as session:
        session.execute(update(UploadRequest).where(UploadRequest.id == held.request_id).values(lease_until=func.now()))
    with sessions.begin() as session:
        assert [moved[:2] for moved in states.release_expired_claims(session)] == [(held.request_id, "queued")]
        fresh = states.claim(session, held.request_id, settings.lease_seconds)
    assert fresh is not None
    return fresh


def lost(lease: LeaseKeeper) -> bool:
    try:
        lease.check_claim()
    except ClaimLost:
        return True
    return False


def test_progress_starts_at_zero_and_is_written_only_under_the_claim(
    sessions: sessionmaker[Session], make_tenant: Any, settings: Settings
) -> None:
    held = claimed(sessions, make_tenant("acme", (PRODUCT,)), settings)
    assert checked(sessions, held.request_id) == (0, 0)

    with sessions.begin() as session:
        assert states.record_progress(session, held, 120, 4_000)
    assert checked(sessions, held.request_id) == (120, 4_000)

    fresh = taken_over(sessions, held, settings)
    assert checked(sessions, held.request_id) == (0, 0)  # the dead attempt's counts are gone
    with sessions.begin() as session:
        assert not states.record_progress(session, held, 999, 99_000)
    assert checked(sessions, held.request_id) == (0, 0)

    with sessions.begin() as session:
        assert states.complete(session, fresh, 1)
        assert not states.record_progress(session, fresh, 1, 20)
    assert checked(sessions, held.request_id) == (None, None)


def test_a_request_given_back_keeps_no_progress(
    sessions: sessionmaker[Session], make_tenant: Any, settings: Settings
) -> None:
    held = claimed(sessions, make_tenant("acme", (PRODUCT,)), settings)
    with sessions.begin() as session:
        assert states.record_progress(session, held, 120, 4_000)
        assert states.give_back(session, held)
    assert checked(sessions, held.request_id) == (None, None)


def test_a_processing_upload_shows_its_progress_as_the_openapi_document_says(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    held = claimed(sessions, acme, settings)
    size = client.get(f"/api/v1/uploads/{held.request_id}", headers=acme.auth).get_json()["size_bytes"]
    with sessions.begin() as session:
        assert states.record_progress(session, held, 1, size // 2)

    response = client.get(f"/api/v1/uploads/{held.request_id}", headers=acme.auth)

    assert response.get_json()["progress"] == {"lines_checked": 1, "percent": size // 2 * 100 // size}
    schemathesis.openapi.from_dict(document())["/api/v1/uploads/{upload_id}"]["GET"].validate_response(response)
    assert "1 line checked" in words(client.get(TABLE).get_data(as_text=True))


def test_the_bytes_read_reach_the_whole_file_only_once_every_line_is_read() -> None:
    progress = Progress()
    chunks = progress.counting([b"a" * 10, b"b" * 5])
    assert (progress.lines, progress.bytes_read) == (0, 0)

    assert next(chunks) == b"a" * 10
    assert progress.bytes_read == 9
    assert next(chunks) == b"b" * 5
    assert list(chunks) == []
    assert progress.bytes_read == 14  # the reader may still be at work on the last chunk's lines

    progress.read_through(3)
    assert (progress.lines, progress.bytes_read) == (3, 15)


def test_the_lease_thread_writes_progress_each_second_and_nothing_once_the_claim_is_lost(
    sessions: sessionmaker[Session], make_tenant: Any, settings: Settings
) -> None:
    held = claimed(sessions, make_tenant("acme", (PRODUCT,)), settings)
    progress = Progress()
    chunks = progress.counting([b"x" * 2_048, b"x" * 2_048])
    with LeaseKeeper(sessions.kw["bind"], held, settings.lease_seconds, progress) as lease:
        next(chunks)
        lines = 64
        progress.lines_from(lambda: lines)
        assert wait_until(lambda: checked(sessions, held.request_id) == (64, 2_047), timeout=3)

        taken_over(sessions, held, settings)
        next(chunks)
        lines = 128
        assert wait_until(lambda: lost(lease), timeout=3)
        assert checked(sessions, held.request_id) == (0, 0)  # the new claim's, untouched


def test_a_large_file_shows_its_lines_checked_while_processing_and_no_progress_once_decided(
    client: FlaskClient, acme: Tenant, workers: Any
) -> None:
    # CSV: its rows are parsed one by one, so reading them spans several
    # ticks; a TXT file's clean lines go by in blocks, a million in under a
    # second, and then the storing (one statement) takes most of the time.
    lines = LARGE_FILE_LINES
    created = upload(client, acme, PRODUCT, large_csv(PRODUCT, lines), filename="codes.csv").get_json()
    assert created["progress"] is None  # queued

    seen, cells, decided = watch(client, acme, created["id"])

    assert decided["status"] == "completed", decided
    assert decided["progress"] is None
    midway = [p for p in seen if 0 < p["lines_checked"] < lines]
    assert midway, f"no progress seen between 0 and {lines:,} lines: {seen}"
    assert all(0 < p["percent"] < 100 for p in midway)
    assert [p["lines_checked"] for p in seen] == sorted(p["lines_checked"] for p in seen)  # never backwards
    assert any(re.fullmatch(r"[\d,]+ lines checked \(\d+%\)", cell) for cell in cells["table"]), cells
    assert any(re.fullmatch(r"[\d,]+ lines checked \(\d+%\)", cell) for cell in cells["page"]), cells
    storing = f"All {lines:,} lines read; looking for duplicates and storing the codes"
    assert storing in cells["table"] + cells["page"], cells  # the last stage: one statement, no count
    final = page(client.get(TABLE)).rows[created["id"]]
    assert final.status == "completed" and "checked" not in final.text
    assert 'id="progress"' not in client.get(f"/uploads/{created['id']}").get_data(as_text=True)


def watch(client: FlaskClient, tenant: Tenant, upload_id: int) -> tuple[list[Any], dict[str, list[str]], Any]:
    """Poll the API, the request list and the request page as fast as they
    answer until the request is decided: the progress members seen while
    processing, what the screens said of it, and the decided request."""
    seen: list[Any] = []
    cells: dict[str, list[str]] = {"table": [], "page": []}
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/uploads/{upload_id}", headers=tenant.auth).get_json()
        if body["status"] in DECIDED:
            return seen, cells, body
        if body["status"] == "processing":
            seen.append(body["progress"])
            row = page(client.get(TABLE)).rows[upload_id]
            if row.status == "processing":
                cells["table"].append(words(row.cells[COLUMNS.index("Reason")]))
            shown = re.search(
                r'<dd id="progress">(.*?)</dd>', client.get(f"/uploads/{upload_id}").get_data(as_text=True), re.S
            )
            if shown:
                cells["page"].append(words(re.sub(r"<[^>]+>", " ", shown.group(1))))
        time.sleep(0.02)
    raise AssertionError(f"upload {upload_id} was not decided in time; seen {seen[-3:]}")
