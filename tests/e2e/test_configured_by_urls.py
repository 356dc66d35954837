"""With DATABASE_URL and REDIS_URL set, the processes start no embedded
server and run on the given ones: how docker-compose.yml runs them. The URLs
are the test session's (embedded sockets, or the CI machine's services)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.broker import kombu_url
from shared.config import Settings
from tests import conftest as suite
from tests.e2e.processes import REPO, LineReader, free_port, remove_dir, short_temp_dir

pytestmark = pytest.mark.e2e


@pytest.fixture
def empty_data_dir() -> Iterator[Path]:
    path = short_temp_dir()
    yield path
    remove_dir(path)


def start(args: list[str], settings: Settings, data_dir: Path, **extra: str) -> subprocess.Popen[str]:
    assert settings.database_url and settings.redis_url
    environ = suite.test_environ(
        LICENSECODES_DATA_DIR=str(data_dir),
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        SECRET_KEY="a shared secret for every container",
        **extra,
    )
    return subprocess.Popen(
        [sys.executable, *args], env=environ, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_web_server_runs_on_the_configured_services_alone(settings: Settings, empty_data_dir: Path) -> None:
    port = free_port()
    web = start(["-m", "web", "web", "--workers", "1"], settings, empty_data_dir, PORT=str(port))
    output = LineReader(web)
    try:
        output.wait_for("Booting worker", timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200
        assert not (empty_data_dir / "postgres").exists()
        assert not (empty_data_dir / "redis").exists()
    finally:
        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=60) == 0
        output.text()


def test_a_worker_on_the_configured_broker_returns_the_compose_health_check(
    settings: Settings, empty_data_dir: Path
) -> None:
    worker = start(["-m", "worker", "worker", "--concurrency=1", "-n", "probe@%h"], settings, empty_data_dir)
    output = LineReader(worker)
    try:
        output.wait_for("ready.", timeout=60)
        assert settings.redis_url
        # The health check of docker-compose.yml, aimed at this worker.
        ping = subprocess.run(
            [str(Path(sys.executable).parent / "celery"), "--broker", kombu_url(settings.redis_url),
             "inspect", "ping", "--destination", f"probe@{socket.gethostname()}", "--timeout", "10"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "pong" in ping.stdout
        assert not (empty_data_dir / "postgres").exists()
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        output.text()
