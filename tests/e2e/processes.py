"""Helpers for tests that run real processes and check what they leave."""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from shared.config import Settings
from tests.conftest import clean_environ, test_environ

REPO = Path(__file__).resolve().parents[2]


def short_temp_dir() -> Path:
    """A data directory whose socket paths fit in the 107-byte limit."""
    return Path(tempfile.mkdtemp(prefix="lc-", dir="/tmp"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def embedded_environ(data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment that makes the service use embedded servers in
    data_dir, with its defaults: none of the caller's settings (no
    DATABASE_URL, SECRET_KEY, PORT ...), only `extra`."""
    return clean_environ(LICENSECODES_DATA_DIR=str(data_dir), **extra)


def postgres_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def redis_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "redis" / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if text in " ".join(process.info["cmdline"] or []) and process.pid != os.getpid():
            found.append(process)
    return found


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


class LineReader:
    """Reads a process's stdout on a thread, so a test can wait for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:  # type: ignore[no-untyped-def]
        with stream:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        for line in self._lines_until(deadline):
            if needle in line:
                return line
        raise AssertionError(f"no line containing {needle!r} within {timeout} s; got:\n" + "\n".join(self.lines))

    def _lines_until(self, deadline: float) -> Iterator[str]:
        for line in self.lines:
            yield line
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)
            yield line

    def text(self) -> str:
        """Everything read so far, including what is already waiting."""
        for _ in self._lines_until(time.monotonic()):
            pass
        return "\n".join(self.lines)


def python_process(code: str, environ: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=environ,
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@contextlib.contextmanager
def web_server(settings: Settings, *, workers: int, threads: int, **extra: str) -> Iterator[int]:
    """`licensecodes web` on the test services, with `extra` settings; yields
    its port once /healthz answers."""
    assert settings.database_url and settings.redis_url
    data_dir, port = short_temp_dir(), free_port()
    environ = test_environ(
        LICENSECODES_DATA_DIR=str(data_dir),
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        SECRET_KEY=settings.secret_key,  # the test's API keys are HMACs under it
        PORT=str(port),
        **extra,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "web", "--workers", str(workers), "--threads", str(threads)],
        env=environ,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = LineReader(process)
    try:
        assert wait_until(lambda: _healthy(port), timeout=60), output.text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)
        output.text()
        remove_dir(data_dir)


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
