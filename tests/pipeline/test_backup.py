"""A backup taken while 8 clients upload and read (real worker, real
`licensecodes backup`), restored into a new database: every request it
holds as completed has all of its codes, none holds a code of a request
it does not hold as completed, the counts equal the rows, and the
service on the restored database serves the same publisher with the same
API key (docs/operating.md#backup-and-restore)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db import make_engine, make_sessions
from tests.backups import licensecodes, new_database
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, txt, upload, wait_decided

UPLOADERS = 4
READERS = 4
CODES_AN_UPLOAD = 2_000


def _file(uploader: int, n: int) -> bytes:
    return txt(*(f"1\tU{uploader}N{n}C{line:06d}" for line in range(CODES_AN_UPLOAD)))


def _holdings(session: Session) -> dict[int, tuple[str, int, int]]:
    """Each request: its status, the codes it says it stored, the codes there are."""
    rows = session.execute(
        text(
            "SELECT r.id, r.status, coalesce(r.code_count, 0), "
            "(SELECT count(*) FROM license_codes c WHERE c.request_id = r.id) FROM upload_requests r"
        )
    )
    return {request_id: (status, int(said), int(held)) for request_id, status, said, held in rows}


def test_a_backup_taken_while_clients_upload_and_read_restores_every_completed_request_whole(
    app: Flask, settings: Settings, sessions: sessionmaker[Session], make_tenant: Any, workers: Any, tmp_path: Path
) -> None:
    assert settings.database_url is not None
    acme: Tenant = make_tenant("acme", (1,))
    stop = threading.Event()
    failures: list[str] = []
    uploaded: list[int] = []

    def uploader(number: int) -> None:
        client = app.test_client()
        n = 0
        while not stop.is_set():
            response = upload(client, acme, 1, _file(number, n))
            if response.status_code != 202:
                failures.append(f"upload {response.status_code}: {response.get_json()}")
                return
            uploaded.append(response.get_json()["id"])
            wait_decided(client, acme, uploaded[-1])  # as a shop would, before its next file
            n += 1

    def reader(number: int) -> None:
        client = app.test_client()
        paths = ("/api/v1/products", "/api/v1/uploads", "/api/v1/products/1/codes?limit=50", "/api/v1/products/1/stock")
        while not stop.is_set():
            for path in paths:
                response = client.get(path, headers=acme.auth)
                if response.status_code != 200:
                    failures.append(f"GET {path} {response.status_code}")
                    return

    clients = [threading.Thread(target=uploader, args=(n,)) for n in range(UPLOADERS)]
    clients += [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for client in clients:
        client.start()
    try:
        # Some requests completed when the backup starts, others on their way.
        deadline = time.monotonic() + 120
        completed_before: set[int] = set()
        while len(completed_before) < 2 and time.monotonic() < deadline and not failures:
            time.sleep(0.2)
            with sessions() as session:
                completed_before = {i for i, (status, _, _) in _holdings(session).items() if status == "completed"}
        backup = tmp_path / "during.backup"
        taken = licensecodes(settings, settings.database_url, "backup", str(backup))
        time.sleep(1)
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert taken.returncode == 0, taken.stderr
    assert not failures, failures[:5]
    assert completed_before, "no upload completed before the backup: nothing was proved"
    for upload_id in uploaded:  # the source decides everything it was given
        assert wait_decided(app.test_client(), acme, upload_id)["status"] == "completed"

    with new_database(settings) as target:
        restored = licensecodes(settings, target, "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        restored_sessions = make_sessions(make_engine(target))
        with restored_sessions() as session:
            held = _holdings(session)
        statuses = {status for status, _, _ in held.values()}
        print(f"\nrestored {len(held)} requests ({sorted(statuses)}) of {len(uploaded)} uploaded during the backup")
        assert completed_before <= {i for i, (status, _, _) in held.items() if status == "completed"}
        for request_id, (status, said, there) in held.items():
            # All of a completed request's codes, and no code of any other.
            assert there == (CODES_AN_UPLOAD if status == "completed" else 0), (request_id, status, said, there)
            assert status != "completed" or said == there
        assert_counts_are_exact(restored_sessions)

        # The service on the restored database: the same key, the same codes.
        from web import create_app

        served = create_app(settings.with_urls(target, settings.redis_url)).test_client()
        products = served.get("/api/v1/products", headers=acme.auth)
        assert products.status_code == 200, products.get_json()
        assert products.get_json()["items"][0]["product_id"] == 1
        some = min(completed_before)
        download = served.get(f"/api/v1/uploads/{some}/codes.txt", headers=acme.auth)
        assert download.status_code == 200
        assert len(download.data.splitlines()) == CODES_AN_UPLOAD
