"""The embedded PostgreSQL and Redis of one data directory are started once,
shared by every process that uses it, and stopped when the last one leaves,
also when an earlier one was killed (docs/operating.md#embedded-servers)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from shared import embedded
from shared.embedded import postgres
from shared.errors import EmbeddedServiceError
from tests.e2e.processes import (
    alive,
    embedded_environ,
    postgres_pid,
    python_process,
    redis_pid,
    remove_dir,
    short_temp_dir,
    wait_until,
)

pytestmark = pytest.mark.e2e

# A holder: attach, print the URLs, wait until stdin closes (or a signal).
HOLDER = """
import os, sys
from pathlib import Path
from shared import embedded
print(*embedded.attach(Path(os.environ["LICENSECODES_DATA_DIR"])), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = short_temp_dir()
    yield path
    embedded._stop_servers(path)  # whatever a failed test left running
    remove_dir(path)


def start_holder(data_dir: Path):  # type: ignore[no-untyped-def]
    process = python_process(HOLDER, embedded_environ(data_dir))
    assert process.stdout is not None
    urls = process.stdout.readline().split()
    assert len(urls) == 2, f"the holder did not attach: {urls} {process.stdout.read()}"
    return process, urls


def release(process) -> int:  # type: ignore[no-untyped-def]
    """Let the holder exit (or reap it, when it was killed) and close its pipes."""
    process.stdin.close()
    code = int(process.wait(timeout=60))
    process.stdout.close()
    return code


def servers_running(data_dir: Path) -> bool:
    return alive(postgres_pid(data_dir)) and alive(redis_pid(data_dir))


def servers_stopped(data_dir: Path) -> bool:
    return postgres_pid(data_dir) is None and not alive(redis_pid(data_dir))


def test_two_processes_share_one_pair_of_servers_and_the_last_one_out_stops_them(data_dir: Path) -> None:
    first, first_urls = start_holder(data_dir)
    postgres, redis = postgres_pid(data_dir), redis_pid(data_dir)
    second, second_urls = start_holder(data_dir)

    assert second_urls == first_urls
    assert (postgres_pid(data_dir), redis_pid(data_dir)) == (postgres, redis), "the second process started new servers"
    assert len(embedded.running_holders(data_dir)) == 2

    assert release(first) == 0
    assert servers_running(data_dir), "the servers stopped while a process still used them"
    assert release(second) == 0
    assert servers_stopped(data_dir)
    assert not alive(postgres) and not alive(redis)


def test_a_killed_holder_does_not_keep_the_servers_alive_for_ever(data_dir: Path) -> None:
    killed, _ = start_holder(data_dir)
    killed.kill()
    release(killed)
    assert servers_running(data_dir)  # nobody was left to stop them

    later, _ = start_holder(data_dir)
    assert [h.pid for h in embedded.running_holders(data_dir)] == [later.pid]
    assert release(later) == 0
    assert wait_until(lambda: servers_stopped(data_dir), timeout=30)


def test_sigterm_to_a_holder_still_stops_the_servers(data_dir: Path) -> None:
    holder, _ = start_holder(data_dir)
    holder.send_signal(signal.SIGTERM)
    assert release(holder) == 128 + signal.SIGTERM
    assert servers_stopped(data_dir)


def test_data_persists_across_a_stop_and_a_start(data_dir: Path) -> None:
    holder, (database_url, _) = start_holder(data_dir)
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('still here')")
    connection.close()
    release(holder)
    assert servers_stopped(data_dir)

    holder, (database_url, _) = start_holder(data_dir)
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT value FROM kept")
        assert cursor.fetchall() == [("still here",)]
    connection.close()
    release(holder)


def test_a_data_directory_too_long_for_a_socket_is_refused_before_anything_starts(tmp_path: Path) -> None:
    too_long = tmp_path / ("d" * 110)
    with pytest.raises(EmbeddedServiceError, match="LICENSECODES_DATA_DIR"):
        embedded.attach(too_long)
    assert not (too_long / "postgres" / "PG_VERSION").exists()
    assert not (too_long / "redis").exists()


def test_a_new_embedded_server_runs_with_our_settings_not_the_defaults(data_dir: Path) -> None:
    holder, (database_url, _) = start_holder(data_dir)
    wanted = postgres.settings(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
        for name, value in wanted.items():
            cursor.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            assert cursor.fetchone() == (_as_shown(value),), name
    connection.close()
    release(holder)


def _as_shown(value: str) -> str:
    """PostgreSQL shows 1024MB as 1GB."""
    return f"{int(value[:-2]) // 1024}GB" if value.endswith("MB") and int(value[:-2]) % 1024 == 0 else value


@pytest.mark.parametrize(
    ("memory_gb", "shared_buffers"), [(0.5, "128MB"), (4, "512MB"), (24, "2048MB"), (256, "2048MB")]
)
def test_shared_buffers_are_an_eighth_of_the_memory_within_bounds(memory_gb: float, shared_buffers: str) -> None:
    assert postgres.settings(int(memory_gb * 2**30))["shared_buffers"] == shared_buffers
