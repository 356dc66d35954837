"""A real Celery worker and beat on the test services, for the whole
session, and helpers to upload through the real API and wait for the
Code Generator's decision, to queue a request behind the API's back, and
to race calls against each other."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart

from shared.broker import BULK_QUEUE, PROCESS_TASK, QUEUE, redis_client
from shared.config import Settings
from shared.models import Product
from shared.runtime import Runtime
from shared.statuses import DECIDED
from shared.storage import BlobWriter
from shared.uploads import create_request
from tests.conftest import REPO, TEST_DATA_DIR, Tenant, test_environ
from worker.tasks import register_tasks


@dataclass
class WorkerProcesses:
    worker: subprocess.Popen[bytes]
    beat: subprocess.Popen[bytes]
    log_path: Path

    def pool_children(self) -> list[psutil.Process]:
        return psutil.Process(self.worker.pid).children()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _start(role: str, log: Any, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "worker", role, *options],
        env=test_environ(),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="session")
def workers(settings: Settings, engine: Engine) -> Iterator[WorkerProcesses]:
    """A worker (two pool children) and beat, from the first test that asks
    for them to the end of the session. tests/conftest.py runs every test
    that does not use them first, so they never run beside one."""
    # Those earlier tests left their uploads' wake-up calls on the broker,
    # for requests whose tables have been emptied since. Request ids restart
    # at 1 in every test, so a worker taking one of those calls would claim
    # whichever request of a later test has that id: drop them first (kombu
    # keeps a queue's messages in a Redis list named after it).
    assert settings.redis_url is not None
    redis_client(settings.redis_url).delete(QUEUE, BULK_QUEUE)
    log_path = TEST_DATA_DIR / "logs" / "pytest-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        running = WorkerProcesses(
            _start("worker", log, "--concurrency=2", "-n", "pytest@%h"), _start("beat", log), log_path
        )
        deadline = time.monotonic() + 60
        while "ready." not in running.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "ready." in running.log(), running.log()
        yield running
        for process in (running.beat, running.worker):
            process.terminate()
        for process in (running.beat, running.worker):
            process.wait(timeout=60)


@pytest.fixture(scope="session")
def process_upload(settings: Settings) -> Iterator[Callable[[int], str]]:
    """The worker's own task, `uploads.process`, called in this process as a
    worker's pool would call it: no broker, no eager mode, no worker
    process (a test that uses it alone is of the db tier). One for the
    session: Celery shares a task with every app made after it, so a second
    app would hold the name twice."""
    runtime = Runtime(settings)
    app = Celery("in-process")
    register_tasks(app, runtime)
    yield app.tasks[PROCESS_TASK]
    runtime.engine.dispose()


@pytest.fixture(scope="module")
def server_url(app: Flask) -> Iterator[str]:
    """The real app served on a real port, in a thread, for a module."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def upload(
    client: FlaskClient, tenant: Tenant, product_id: int, content: bytes, filename: str = "codes.txt", **fields: str
) -> Any:
    # Encoded here: the test client would spool a large body to a temporary
    # file that it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), filename), **fields})
    return client.post(
        f"/api/v1/products/{product_id}/uploads",
        data=body,
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def wait_decided(client: FlaskClient, tenant: Tenant, upload_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/uploads/{upload_id}", headers=tenant.auth).get_json()
        if body["status"] in DECIDED or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def large_csv(product_id: int, rows: int = 1_000_000) -> bytes:
    """A CSV file for the product `make_tenant` gave the short code
    acme-<id>, rows enough that the worker reads them for a few seconds
    (CSV rows are parsed one by one, unlike a TXT file's clean lines)."""
    header = "license__license_key,product__short_code\n"
    return (header + "".join(f"P-{n:07d},acme-{product_id}\n" for n in range(rows))).encode()


def txt(*lines: str) -> bytes:
    """A TXT file: each line ended by CR LF, in Windows-1252."""
    return "".join(line + "\r\n" for line in lines).encode("cp1252")


def with_prefix(make_tenant: Any, sessions: sessionmaker[Session], name: str, product_id: int, prefix: str) -> Tenant:
    """A tenant of one product whose codes start with `prefix` (generated ones too)."""
    tenant: Tenant = make_tenant(name, (product_id,))
    with sessions.begin() as session:
        session.get_one(Product, product_id).prefix = prefix
    return tenant


def queued_request(sessions: sessionmaker[Session], tenant: Tenant, content: bytes, *, enqueued: bool = True) -> int:
    """A queued TXT request for the tenant's first product whose message was
    never published. Enqueued (as the upload marks it), it stays queued
    while the workers run until the sweep republishes it, after
    REPUBLISH_AFTER_SECONDS (60 s in the tests); not enqueued, the sweep
    publishes it at its next run (SWEEP_INTERVAL_SECONDS, 1 s)."""
    with sessions.begin() as session:
        writer = BlobWriter(session)
        writer.write(content)
        product = session.get_one(Product, tenant.product_ids[0])
        request = create_request(
            session, tenant.publisher_id, product, writer.finish(),
            format="txt", filename="f.txt", code_type="activation", dry_run=False, window_minutes=20,
        )  # fmt: skip
        if not enqueued:
            request.enqueued_at = None
        return request.id


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released at the same instant; answer what
    each returned or raised."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        start.wait()
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_counts_are_exact(sessions: sessionmaker[Session]) -> None:
    """The maintained counts of codes (docs/architecture.md#maintained-counts)
    equal a count of the rows, both read in one snapshot: whatever else is
    committing meanwhile, codes and their counts commit together."""
    with sessions() as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        kept, counted = kept_counts(session), counted_rows(session)
    assert kept == counted


def kept_counts(session: Session) -> dict[tuple[int, str, str], int]:
    """The maintained counts, (product, code type, status) → codes, rows of zero left out."""
    rows = session.execute(text("SELECT product_id, code_type, status, codes FROM code_counts WHERE codes > 0"))
    return {(p, t, s): int(n) for p, t, s, n in rows}


def counted_rows(session: Session) -> dict[tuple[int, str, str], int]:
    """The same, by counting every row of the codes table: the proof."""
    rows = session.execute(text("SELECT product_id, code_type, status, count(*) FROM license_codes GROUP BY 1, 2, 3"))
    return {(p, t, s): int(n) for p, t, s, n in rows}
