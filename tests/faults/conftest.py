"""The fault-injection suite: real workers and beat on the test
services, faults injected into real processes, and after every trial the
invariants of docs/product.md#processing checked on the database and the workers' logs.

Run by `make test-faults` (and by CI); `make test` leaves it out (the
`faults` mark), since its workers would compete with the pipeline tests'.
"""

from __future__ import annotations

import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared.models import LicenseCode, UploadRequest
from tests.conftest import REPO, TEST_DATA_DIR, Tenant, test_environ
from tests.pipeline.conftest import assert_counts_are_exact, txt, upload

PRODUCT = 4242


class Worker:
    """One `licensecodes worker` with one pool child: the child is the one
    that holds a claim, so a fault aimed at it cannot miss."""

    def __init__(self, name: str, log_path: Path, environ: dict[str, str] | None = None) -> None:
        self.name, self.log_path = name, log_path
        self.environ = environ or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # the worker keeps it open
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", "worker", "--concurrency=1", "-n", f"{self.name}@%h"],
            # A message lost with Redis is published again after seconds, not a minute.
            env=test_environ(**({"REPUBLISH_AFTER_SECONDS": "3"} | self.environ)),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text(errors="replace")[offset:] if self.log_path.exists() else "":
                return self
            time.sleep(0.05)
        raise AssertionError(f"worker {self.name} did not start:\n{self.log_path.read_text(errors='replace')}")

    def child(self) -> psutil.Process:
        assert self.process is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = psutil.Process(self.process.pid).children()
            if children:
                return children[0]
            time.sleep(0.02)
        raise AssertionError(f"worker {self.name} has no pool child")

    def family(self) -> set[int]:
        """The pids of the worker and its pool children."""
        assert self.process is not None
        main = psutil.Process(self.process.pid)
        return {main.pid, *(child.pid for child in main.children(recursive=True))}

    def kill(self) -> None:
        """SIGKILL to the worker and its child at once, as a host crash would."""
        assert self.process is not None
        family = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(recursive=True)]
        for process in family:
            process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        psutil.wait_procs(family, timeout=30)

    def terminate(self) -> None:
        """SIGTERM, as a deploy does: Celery's warm shutdown."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=120)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()


@dataclass
class Trial:
    request_id: int
    codes: list[str]


@dataclass
class Faults:
    """The stage of a trial: workers, a publisher, and the checks."""

    client: FlaskClient
    tenant: Tenant
    sessions: sessionmaker[Session]
    log_path: Path
    environ: dict[str, str] = field(default_factory=dict)  # the workers' and beat's own settings
    workers: list[Worker] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    def worker(self, name: str) -> Worker:
        started = Worker(name, self.log_path, self.environ).start()
        self.workers.append(started)
        return started

    def upload(self, count: int, tenant: Tenant | None = None) -> Trial:
        tenant = tenant or self.tenant
        product = tenant.product_ids[0]
        tag = secrets.token_hex(4).upper()
        codes = [f"F{tag}-{n:07d}" for n in range(count)]
        response = upload(self.client, tenant, product, txt(*(f"{product}\t{code}\t30\t1\t1" for code in codes)))
        assert response.status_code == 202, response.get_data(as_text=True)
        return Trial(response.get_json()["id"], codes)

    def status(self, request_id: int) -> str:
        with self.sessions() as session:
            return str(session.scalar(select(UploadRequest.status).where(UploadRequest.id == request_id)))

    def attempts(self, request_id: int) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(UploadRequest.attempts).where(UploadRequest.id == request_id)) or 0)

    def reason(self, trial: Trial) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(UploadRequest.reason_code).where(UploadRequest.id == trial.request_id))

    def wait_for(self, request_id: int, statuses: tuple[str, ...], timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(request_id)) not in statuses:
            assert time.monotonic() < deadline, f"upload {request_id} still {status} after {timeout} s"
            time.sleep(0.005)
        return status

    def decided(self, trial: Trial, timeout: float = 90) -> str:
        return self.wait_for(trial.request_id, ("completed", "rejected"), timeout)

    def check(self, trial: Trial, expected: str = "completed", interrupted: bool = False) -> None:
        """The invariants, after a trial. `interrupted`: a worker was killed,
        or its connection cut, at a point that may fall between its commit
        and its log line."""
        with self.sessions() as session:
            request = session.get_one(UploadRequest, trial.request_id)
            stored = list(
                session.scalars(
                    select(LicenseCode.code)
                    .where(LicenseCode.request_id == trial.request_id)
                    .order_by(LicenseCode.line_no)
                )
            )
            # Every code on the server belongs to a completed request, all of its codes.
            orphans = session.scalar(
                select(func.count())
                .select_from(LicenseCode)
                .join(UploadRequest, UploadRequest.id == LicenseCode.request_id)
                .where(UploadRequest.status != "completed")
            )
            # No claim outlives its lease unnoticed (the sweep runs every second).
            stale = session.scalar(
                select(func.count())
                .select_from(UploadRequest)
                .where(
                    UploadRequest.status == "processing",
                    UploadRequest.lease_until < func.now() - text("interval '5 s'"),
                )
            )
        assert request.status == expected, (request.status, request.reason_code, request.reason)
        assert request.finished_at is not None and request.finished_at <= request.deadline_at
        if expected == "completed":
            assert stored == trial.codes, f"upload {trial.request_id}: {len(stored)} of {len(trial.codes)} codes"
            assert request.code_count == len(trial.codes)
        else:
            assert stored == []
        assert orphans == 0
        assert stale == 0
        assert_counts_are_exact(self.sessions)
        # Decided once: one worker reported the outcome, however many tried
        # (none when the sweep gave up on it after the last attempt). The
        # worker logs its outcome just after its commit: give it a moment. A
        # fault can land between the two, so an interrupted trial may show
        # none; never two.
        expected_outcomes = 0 if request.reason_code == "processing_failed" else 1
        deadline = time.monotonic() + (3 if interrupted else 10)
        while True:
            outcomes = re.findall(rf"upload {trial.request_id}: (completed|rejected)\b", self.log())
            if len(outcomes) > expected_outcomes or time.monotonic() > deadline:
                break
            if len(outcomes) == expected_outcomes and not interrupted:
                break
            time.sleep(0.05)
        allowed = {expected_outcomes, 0} if interrupted else {expected_outcomes}
        assert len(outcomes) in allowed, f"upload {trial.request_id} decided {outcomes}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def fault_environ() -> dict[str, str]:
    """Settings of a trial's workers and beat over the test session's
    (tests/conftest.py test_environ); a module overrides this fixture to
    run its trials with others."""
    return {}


@pytest.fixture
def faults(
    client: FlaskClient,
    make_tenant: Any,
    sessions: sessionmaker[Session],
    engine: Engine,
    fault_environ: dict[str, str],
) -> Iterator[Faults]:
    log_path = TEST_DATA_DIR / "logs" / f"faults-{secrets.token_hex(3)}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stage = Faults(client, make_tenant("faults", (PRODUCT,)), sessions, log_path, fault_environ)
    beat = subprocess.Popen(
        [sys.executable, "-m", "worker", "beat"], env=test_environ(**fault_environ), cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield stage
    finally:
        for worker in stage.workers:
            worker.stop()
        beat.terminate()
        beat.wait(timeout=60)
