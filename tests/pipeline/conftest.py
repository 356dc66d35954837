"""A real Celery worker and beat on the test services, for the whole
session, and helpers to upload through the real API and wait for the
Code Generator's decision."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import REPO, TEST_DATA_DIR, Tenant, test_environ

DECIDED = ("completed", "rejected")


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
def workers(engine: Engine) -> Iterator[WorkerProcesses]:
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


def txt(*lines: str) -> bytes:
    """A TXT file: each line ended by CR LF, in Windows-1252."""
    return "".join(line + "\r\n" for line in lines).encode("cp1252")
