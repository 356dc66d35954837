"""Redis and PostgreSQL failing under the workers: the
broker restarted or emptied, the database restarted during a COPY, a
worker's connection cut during its final commit. Every request is still
decided once, before its deadline, with exactly the file's codes or none.

The servers restarted here are the embedded ones of the test data directory:
a trial cannot restart an operator's PostgreSQL or Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from shared.broker import redis_client
from shared.config import Settings
from shared.embedded import postgres, redis
from shared.models import UploadRequest
from tests import conftest as suite
from tests.conftest import TEST_DATA_DIR
from tests.faults.conftest import Faults

CODES = 20_000


@pytest.fixture(autouse=True)
def embedded_servers() -> Iterator[None]:
    configured = Settings.from_env(suite.test_environ())
    if configured.database_url or configured.redis_url:
        pytest.skip("these trials restart the embedded servers; DATABASE_URL/REDIS_URL point elsewhere")
    yield
    # Whatever a trial did, the next one starts with both servers up.
    redis.ensure_running(TEST_DATA_DIR / "redis")
    postgres.ensure_running(TEST_DATA_DIR / "postgres")


@pytest.mark.parametrize("trial", range(10))
def test_redis_restarted_mid_load_with_uploads_during_the_outage(faults: Faults, trial: int) -> None:
    faults.rng.seed(400 + trial)
    faults.worker("through-restart")
    before = [faults.upload(CODES) for _ in range(3)]
    faults.wait_for(before[0].request_id, ("processing", "completed"))
    time.sleep(faults.rng.uniform(0, 0.5))
    redis.stop(TEST_DATA_DIR / "redis")
    during = [faults.upload(100) for _ in range(2)]  # each answered 202 (Faults.upload asserts it)
    time.sleep(faults.rng.uniform(0, 1.0))
    redis.ensure_running(TEST_DATA_DIR / "redis")
    after = faults.upload(100)
    for trial_upload in (*before, *during, after):
        faults.decided(trial_upload)
        faults.check(trial_upload)


@pytest.mark.parametrize("trial", range(10))
def test_redis_emptied_with_requests_pending(faults: Faults, trial: int) -> None:
    faults.rng.seed(500 + trial)
    pending = [faults.upload(faults.rng.choice((100, CODES))) for _ in range(3)]
    # No worker yet: the messages wait in Redis, and are lost with it.
    redis_client(f"unix://{TEST_DATA_DIR / 'redis' / redis.SOCKET_NAME}").flushall()
    faults.worker("after-the-flush")
    for lost in pending:
        faults.decided(lost)  # the sweep publishes again for a request that waits too long
        faults.check(lost)
    assert "requests published" in faults.log()


@pytest.mark.parametrize("trial", range(10))
def test_postgres_restarted_during_a_copy(faults: Faults, trial: int) -> None:
    faults.rng.seed(600 + trial)
    faults.worker("through-db-restart")
    upload = faults.upload(60_000)
    faults.wait_for(upload.request_id, ("processing", "completed"))
    time.sleep(faults.rng.uniform(0, 0.3))  # reading, staging and the COPY take about that
    postgres.stop(TEST_DATA_DIR / "postgres")  # fast shutdown: open transactions roll back
    postgres.ensure_running(TEST_DATA_DIR / "postgres")
    faults.decided(upload)
    faults.check(upload, interrupted=True)


@pytest.mark.parametrize("trial", range(10))
def test_the_workers_connection_terminated_during_its_final_commit(faults: Faults, trial: int) -> None:
    faults.rng.seed(700 + trial)
    faults.worker("cut-off")
    upload = faults.upload(60_000)
    # The worker logs this line just before it stores the download, marks the
    # request completed and commits: cut its connection in that stretch.
    staged = f"upload {upload.request_id}: 60000 rows read and staged"
    deadline = time.monotonic() + 60
    while staged not in faults.log():
        assert time.monotonic() < deadline, "the worker never staged the file"
        time.sleep(0.002)
    time.sleep(faults.rng.uniform(0, 0.03))
    with faults.sessions.begin() as session:
        pid = session.scalar(select(UploadRequest.claim_backend_pid).where(UploadRequest.id == upload.request_id))
        if pid is not None:  # None: decided already, the cut comes too late (still a trial of the outcome)
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    faults.decided(upload)
    faults.check(upload, interrupted=True)
