"""A claim whose worker is gone is released at once, not when its lease
runs out: the database session the claim names has ended. These tests use
no workers, so they run before the session's workers and beat start
(tests/conftest.py): no sweep of theirs can come first. The trials on
killed worker processes are in tests/faults/test_dead_workers.py."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from shared import states
from shared.config import Settings
from shared.loading.load import WATCH_THE_CLIENT
from shared.models import UploadRequest
from tests import conftest as suite
from tests.conftest import REPO, Tenant
from tests.pipeline.conftest import queued_request, txt

PRODUCT = 1717


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


@pytest.fixture
def connections(engine: Engine) -> Iterator[list[Connection]]:
    """Connections a test opens as workers' sessions; closed at the end."""
    opened: list[Connection] = []
    yield opened
    for connection in opened:
        connection.close()


def claimed_on(
    sessions: sessionmaker[Session], engine: Engine, tenant: Tenant, name: str, opened: list[Connection]
) -> tuple[int, Connection]:
    """A request claimed, as the worker claims, on a connection that names
    its own session in the claim's transaction; the lease is a long one."""
    request_id = queued_request(sessions, tenant, txt(f"{PRODUCT}\t{name}"))
    connection = engine.connect()
    opened.append(connection)
    with connection.begin():
        held = states.claim(connection, request_id, 600)
        assert held is not None and held.request_id == request_id
        assert states.record_backend(connection, held)
    return request_id, connection


def release(sessions: sessionmaker[Session]) -> list[tuple[int, str]]:
    with sessions.begin() as session:
        return [moved[:2] for moved in states.release_dead_claims(session)]


def status_of(sessions: sessionmaker[Session], request_id: int) -> str:
    with sessions() as session:
        return session.get_one(UploadRequest, request_id).status


def test_a_claim_whose_session_has_ended_is_released_long_before_its_lease_runs_out(
    sessions: sessionmaker[Session], engine: Engine, acme: Tenant, connections: list[Connection]
) -> None:
    dead, dead_connection = claimed_on(sessions, engine, acme, "DEAD", connections)
    alive, _ = claimed_on(sessions, engine, acme, "ALIVE", connections)
    unnamed = queued_request(sessions, acme, txt(f"{PRODUCT}\tUNNAMED"))
    with sessions.begin() as session:  # a claim of an older release: no session named
        assert states.claim(session, unnamed, 600) is not None
    dead_connection.invalidate()  # its socket closed, as the kernel closes a killed process's
    deadline = time.monotonic() + 10
    released = release(sessions)
    while not released and time.monotonic() < deadline:  # the server notices the hang-up at once; allow a moment
        time.sleep(0.05)
        released = release(sessions)
    assert released == [(dead, "queued")]
    assert status_of(sessions, alive) == "processing"
    assert status_of(sessions, unnamed) == "processing"  # its lease decides
    assert release(sessions) == []


def test_a_claim_naming_a_pid_that_a_newer_session_now_has_is_released(
    sessions: sessionmaker[Session], engine: Engine, acme: Tenant, connections: list[Connection]
) -> None:
    reused, connection = claimed_on(sessions, engine, acme, "REUSED", connections)
    with sessions.begin() as session:  # its session ended, and the pid went to the live session
        session.execute(
            update(UploadRequest)
            .where(UploadRequest.id == reused)
            .values(claim_backend_start=UploadRequest.claim_backend_start - datetime.timedelta(hours=1))
        )
    assert connection.execute(text("SELECT 1")).scalar() == 1  # the pid's session is alive
    assert release(sessions) == [(reused, "queued")]


def test_a_dead_claim_on_its_last_attempt_is_rejected(
    sessions: sessionmaker[Session], engine: Engine, acme: Tenant, connections: list[Connection]
) -> None:
    last, connection = claimed_on(sessions, engine, acme, "LAST", connections)
    with sessions.begin() as session:
        session.execute(update(UploadRequest).where(UploadRequest.id == last).values(attempts=states.MAX_ATTEMPTS))
    connection.invalidate()
    deadline = time.monotonic() + 10
    while (released := release(sessions)) == [] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert released == [(last, "rejected")]
    with sessions() as session:
        assert session.scalar(select(UploadRequest.reason_code).where(UploadRequest.id == last)) == (
            "processing_failed"
        )


# A client that connects, runs the setting the Code Generator's transaction
# runs, prints its session's pid and then waits inside a long statement.
BUSY_CLIENT = """
import sys
import psycopg2
connection = psycopg2.connect(sys.argv[1])
cursor = connection.cursor()
cursor.execute(sys.argv[2])
cursor.execute("SELECT pg_backend_pid()")
print(cursor.fetchone()[0], flush=True)
cursor.execute("SELECT pg_sleep(60)")
"""


def test_a_session_busy_in_a_long_statement_ends_within_seconds_of_its_client_being_killed(
    settings: Settings, engine: Engine
) -> None:
    """Without the setting, the session would run its statement to the end
    (a minute here; the insert of a large file in a worker) with its locks."""
    assert settings.database_url is not None
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with subprocess.Popen(
        [sys.executable, "-c", BUSY_CLIENT, dsn, WATCH_THE_CLIENT],
        cwd=REPO,
        env=suite.test_environ(),
        stdout=subprocess.PIPE,
        text=True,
    ) as client:
        try:
            assert client.stdout is not None
            pid = int(client.stdout.readline())
            killed = kill_when_busy(engine, client, pid)
            # Each statement its own transaction: PostgreSQL keeps one view of
            # pg_stat_activity a transaction.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
                present = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"
                while watcher.execute(text(present), {"pid": pid}).scalar():
                    assert time.monotonic() - killed < 5, "the session outlived its client"
                    time.sleep(0.05)
        finally:
            if client.poll() is None:
                client.kill()


def kill_when_busy(engine: Engine, client: subprocess.Popen[str], pid: int) -> float:
    """SIGKILL the client once its session runs the long statement; the
    moment (time.monotonic) it was dead."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        busy = "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND query = 'SELECT pg_sleep(60)'"
        deadline = time.monotonic() + 10
        while not watcher.execute(text(busy), {"pid": pid}).scalar():
            assert time.monotonic() < deadline, "the client never started its statement"
            time.sleep(0.02)
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=10)
    return time.monotonic()
