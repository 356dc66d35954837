"""`licensecodes serve`: everything on one machine.

Connects the services (starting the embedded ones), applies migrations,
creates the demo publisher on first start, then runs the web server, a Celery
worker and beat as child processes, each in its own process group so that
Ctrl-C reaches this supervisor alone and the shutdown happens in order:
children first (each detaching from the embedded servers), then this process,
the last holder, stops PostgreSQL and Redis. A child that dies on its own is
reported with the end of its log, and the rest are stopped.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from shared.broker import BULK_QUEUE, QUEUE
from shared.config import Settings
from shared.db import make_engine, make_sessions
from shared.demo import DemoCredentials, ensure_demo
from shared.migrate import upgrade
from shared.services import connect

CHILD_COMMANDS = {
    "web": ["-m", "web", "web"],
    # Two pools: large files (shared.broker.BULK_QUEUE) get their own process,
    # so a million-code upload never keeps a ten-code one waiting.
    "worker": ["-m", "worker", "worker", f"--queues={QUEUE}", "--concurrency=2", "--hostname=uploads@%h"],
    "bulk-worker": ["-m", "worker", "worker", f"--queues={BULK_QUEUE}", "--concurrency=1", "--hostname=bulk@%h"],
    "beat": ["-m", "worker", "beat"],
}
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


def serve(settings: Settings) -> int:
    stop_requested = threading.Event()
    _on_stop_signals(stop_requested)
    started = time.monotonic()
    settings = connect(settings)
    credentials = _prepare_database(settings)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = [_start_child(name, command, log_dir) for name, command in CHILD_COMMANDS.items()]
    try:
        failed = _wait_until_ready(settings, children, stop_requested)
        if failed is None and not stop_requested.is_set():
            _print_banner(settings, credentials, log_dir, time.monotonic() - started)
            failed = _watch(children, stop_requested)
        if failed is not None:
            _report_death(failed)
        return 0 if failed is None else 1
    finally:
        _stop_children(children)
        print("licensecodes: stopped.", flush=True)


def _prepare_database(settings: Settings) -> DemoCredentials | None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            return ensure_demo(session, settings.data_dir, settings.secret_key)
    finally:
        engine.dispose()


def _on_stop_signals(stop_requested: threading.Event) -> None:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        if not stop_requested.is_set():
            print("\nlicensecodes: stopping…", flush=True)
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def _start_child(name: str, command: list[str], log_dir: Path) -> Child:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_die_with_parent,
        )
    return Child(name, process, log_path)


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright,
    the kernel sends the child SIGTERM, so nothing is left behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_until_ready(settings: Settings, children: list[Child], stop_requested: threading.Event) -> Child | None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    url = f"http://{host}:{settings.port}/healthz"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not stop_requested.is_set():
        dead = _first_dead(children)
        if dead is not None:
            return dead
        if _answers_ok(url):
            return None
        stop_requested.wait(0.1)
    if not stop_requested.is_set():
        print(f"licensecodes: the web server did not answer {url} within {READY_TIMEOUT_SECONDS:.0f} s", flush=True)
        return children[0]
    return None


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _watch(children: list[Child], stop_requested: threading.Event) -> Child | None:
    while not stop_requested.wait(0.2):
        dead = _first_dead(children)
        if dead is not None:
            return dead
    return None


def _first_dead(children: list[Child]) -> Child | None:
    return next((child for child in children if child.process.poll() is not None), None)


def _report_death(child: Child) -> None:
    code = child.process.returncode
    how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
    print(f"licensecodes: the {child.name} process {how}; stopping the others.", flush=True)
    tail = _tail(child.log_path, lines=15)
    if tail:
        print(f"--- last lines of {child.log_path} ---\n{tail}", flush=True)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_children(children: list[Child]) -> None:
    """SIGTERM each child (gunicorn and Celery shut down gracefully), then
    SIGKILL the whole process group of any that are still running."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"licensecodes: the {child.name} process did not stop in time; killing it.", flush=True)
        _kill_group(child.process.pid)
        child.process.wait()


def _kill_group(pgid: int) -> None:
    # Also reaps what a dead child left: gunicorn workers, Celery pool processes.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _print_banner(settings: Settings, credentials: DemoCredentials | None, log_dir: Path, seconds: float) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    lines = [
        "",
        f"licensecodes is running (ready in {seconds:.1f} s)",
        f"  URL:      http://{host}:{settings.port}",
    ]
    if credentials is not None:
        lines += [f"  Login:    {credentials.email} / {credentials.password}", f"  API key:  {credentials.api_key}"]
    else:
        lines += [
            "  Login:    the demo credentials file is gone; make a new user or key with",
            "            licensecodes create-user / create-api-key --publisher demo",
        ]
    lines += [
        f"  Data:     {settings.data_dir}",
        f"  Logs:     {log_dir}/{{{','.join(CHILD_COMMANDS)}}}.log",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)
