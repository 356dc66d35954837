"""Uploaded files deleted UPLOAD_RETENTION_DAYS after their request is
decided (shared.retention, docs/product.md#how-long-uploaded-files-are-kept):
exactly the files of requests decided before the cut-off, dry runs
included, and nothing else; the requests, their codes, reports and
downloads stay; a dry run whose file is gone cannot be confirmed (410),
also when the two race; and uploads going on meanwhile are untouched.

The uploads here are decided by the worker's own task called in this
process (`process_upload`), except in the last test, which runs the real
worker beside the deletions."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.errors import ConfigError
from shared.retention import forget_old_files
from tests.conftest import Tenant
from tests.pipeline.conftest import at_once, txt, upload, wait_decided
from tests.web.test_paging import login

DAYS = 30
RACE_TRIALS = 30


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def _decided(
    client: FlaskClient, acme: Tenant, process_upload: Callable[[int], str], content: bytes, **fields: str
) -> int:
    made = upload(client, acme, 1, content, **fields)
    assert made.status_code == 202, made.get_json()
    upload_id: int = made.get_json()["id"]
    process_upload(upload_id)
    return upload_id


def _age(sessions: sessionmaker[Session], *ids: int, days: int = DAYS + 1) -> None:
    with sessions.begin() as session:
        session.execute(
            text("UPDATE upload_requests SET finished_at = now() - make_interval(days => :days) WHERE id = ANY(:ids)"),
            {"days": days, "ids": list(ids)},
        )


def _files(sessions: sessionmaker[Session]) -> dict[int, tuple[bool, int]]:
    """Each request: whether its file is noted deleted, and the chunks its file still has."""
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT r.id, r.file_deleted_at IS NOT NULL, "
                "(SELECT count(*) FROM upload_chunks c WHERE c.blob_id = r.blob_id) FROM upload_requests r"
            )
        )
        return {request_id: (bool(deleted), int(chunks)) for request_id, deleted, chunks in rows}


def test_exactly_the_files_of_requests_decided_before_the_retention_are_deleted(
    client: FlaskClient, engine: Engine, sessions: sessionmaker[Session], acme: Tenant, process_upload: Any
) -> None:
    good = txt(*(f"1\tOLD-{n:05d}" for n in range(500)))
    completed = _decided(client, acme, process_upload, good)
    rejected = _decided(client, acme, process_upload, txt("1\tBAD CODE WITH SPACES"))
    dry_run = _decided(client, acme, process_upload, txt("1\tDRY-1", "1\tDRY-2"), dry_run="true")
    recent = _decided(client, acme, process_upload, txt("1\tNEW-1"))
    queued = upload(client, acme, 1, txt("1\tWAITING-1")).get_json()["id"]
    confirmed_dry_run = _decided(client, acme, process_upload, txt("1\tCONF-1"), dry_run="true")
    confirmed = client.post(f"/api/v1/uploads/{confirmed_dry_run}/confirm", headers=acme.auth).get_json()["id"]
    _age(sessions, completed, rejected, dry_run, confirmed_dry_run)
    download = client.get(f"/api/v1/uploads/{completed}/codes.txt", headers=acme.auth)
    before = _files(sessions)
    assert all(chunks > 0 and not deleted for deleted, chunks in before.values())

    assert forget_old_files(engine, 0).files == 0  # 0 keeps them forever
    forgotten = forget_old_files(engine, DAYS)
    after = _files(sessions)
    assert forgotten.requests == 3
    assert {i for i, (deleted, _) in after.items() if deleted} == {completed, rejected, dry_run}
    for request_id in (completed, rejected, dry_run):
        assert after[request_id] == (True, 0)
    # The rest keep theirs: too recent, still waiting, or shared with a request that waits.
    for request_id in (recent, queued, confirmed_dry_run, confirmed):
        assert after[request_id] == before[request_id]
    assert forget_old_files(engine, DAYS).requests == 0

    # The request, its codes and its download stay: the same bytes, the same SHA-256.
    again = client.get(f"/api/v1/uploads/{completed}/codes.txt", headers=acme.auth)
    assert again.status_code == 200 and again.data == download.data
    assert again.headers["X-Content-SHA256"] == download.headers["X-Content-SHA256"]
    body = client.get(f"/api/v1/uploads/{completed}", headers=acme.auth).get_json()
    assert (body["status"], body["code_count"], body["file_deleted_at"] is not None) == ("completed", 500, True)
    assert client.get(f"/api/v1/uploads/{recent}", headers=acme.auth).get_json()["file_deleted_at"] is None
    assert client.get(f"/api/v1/uploads/{rejected}/errors.csv", headers=acme.auth).status_code == 200
    with sessions() as session:
        assert (
            session.execute(text("SELECT count(*) FROM license_codes WHERE request_id = :r"), {"r": completed}).scalar()
            == 500
        )

    # A dry run without its file cannot be confirmed: 410, nothing queued.
    refused = client.post(f"/api/v1/uploads/{dry_run}/confirm", headers=acme.auth)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (410, "file_gone")
    assert "upload the file again" in refused.get_json()["error"]["message"]

    # The screens say so.
    login(client, acme)
    page = client.get(f"/uploads/{completed}").get_data(as_text=True)
    assert "No longer kept" in page and "Its codes and their download remain." in page
    assert "No longer kept" not in client.get(f"/uploads/{recent}").get_data(as_text=True)


def test_a_dry_runs_file_stays_until_the_request_confirmed_from_it_is_decided_and_old(
    client: FlaskClient, engine: Engine, sessions: sessionmaker[Session], acme: Tenant, process_upload: Any
) -> None:
    dry_run = _decided(client, acme, process_upload, txt("1\tPAIR-1", "1\tPAIR-2"), dry_run="true")
    real = client.post(f"/api/v1/uploads/{dry_run}/confirm", headers=acme.auth).get_json()["id"]
    process_upload(real)
    _age(sessions, dry_run)
    assert forget_old_files(engine, DAYS).requests == 0  # the real one is recent
    _age(sessions, real)
    assert forget_old_files(engine, DAYS).requests == 2  # both, one file
    assert _files(sessions) == {dry_run: (True, 0), real: (True, 0)}
    assert client.get(f"/api/v1/uploads/{real}/codes.txt", headers=acme.auth).data == txt(
        "1\tPAIR-1\t365", "1\tPAIR-2\t365"
    )


def test_of_a_confirmation_and_the_deletion_of_its_dry_runs_file_exactly_one_wins(
    app: Flask, engine: Engine, sessions: sessionmaker[Session], acme: Tenant, process_upload: Any
) -> None:
    outcomes: Counter[str] = Counter()
    client = app.test_client()
    for trial in range(RACE_TRIALS):
        dry_run = _decided(client, acme, process_upload, txt(f"1\tRACE-{trial}"), dry_run="true")
        _age(sessions, dry_run)
        confirm, forgot = at_once(
            lambda d=dry_run: app.test_client().post(f"/api/v1/uploads/{d}/confirm", headers=acme.auth),
            # Started a little later or not: each side is seen winning.
            lambda: (time.sleep(random.uniform(0, 0.03)), forget_old_files(engine, DAYS))[1],
        )
        assert not isinstance(confirm, Exception) and not isinstance(forgot, Exception), (confirm, forgot)
        files = _files(sessions)
        if confirm.status_code == 202:  # type: ignore[union-attr]
            outcomes["confirmed"] += 1
            real = confirm.get_json()["id"]  # type: ignore[union-attr]
            assert files[dry_run] == files[real] and files[real][1] > 0  # the file kept for it
            assert process_upload(real) and wait_decided(client, acme, real)["status"] == "completed"
        else:
            outcomes["gone"] += 1
            assert (confirm.status_code, confirm.get_json()["error"]["code"]) == (410, "file_gone")  # type: ignore[union-attr]
            assert files[dry_run] == (True, 0)
    print(f"\n{RACE_TRIALS} confirmations against the deletion of their file: {dict(outcomes)}")
    assert outcomes["confirmed"] + outcomes["gone"] == RACE_TRIALS
    assert outcomes["confirmed"] and outcomes["gone"], "one side never won: the race was not run"


def test_a_negative_retention_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="UPLOAD_RETENTION_DAYS"):
        Settings.from_env({"UPLOAD_RETENTION_DAYS": "-1", "SECRET_KEY": "x"})
    assert Settings.from_env({"SECRET_KEY": "x"}).upload_retention_days == 30


def test_deletions_beside_uploads_going_on_touch_only_the_old_files(
    app: Flask, engine: Engine, sessions: sessionmaker[Session], acme: Tenant, workers: Any
) -> None:
    client = app.test_client()
    old = [
        wait_decided(client, acme, upload(client, acme, 1, txt(f"1\tAGED-{n}")).get_json()["id"])["id"]
        for n in range(6)
    ]
    _age(sessions, *old)
    stop = threading.Event()
    forgotten: list[int] = []

    def forget() -> None:
        while not stop.is_set():
            forgotten.append(forget_old_files(engine, DAYS, batch=2).requests)

    deleter = threading.Thread(target=forget)
    deleter.start()
    try:
        new = [
            upload(client, acme, 1, txt(*(f"1\tLIVE-{n}-{i}" for i in range(200)))).get_json()["id"] for n in range(12)
        ]
        decided = [wait_decided(client, acme, upload_id) for upload_id in new]
    finally:
        stop.set()
        deleter.join()
    assert [d["status"] for d in decided] == ["completed"] * len(new)
    assert sum(forgotten) == len(old)
    files = _files(sessions)
    assert all(files[i] == (True, 0) for i in old)
    assert all(not files[i][0] and files[i][1] > 0 for i in new)
