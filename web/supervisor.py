"""`licensecodes serve`: everything on one machine.

Connects the services (starting the embedded ones), applies migrations,
creates the demo publisher on first start, then runs the web server, a Celery
worker and beat as child processes, each in its own process group so that
Ctrl-C reaches this supervisor alone and the shutdown happens in order:
children first (each detaching from the embedded servers), then this process,
the last holder, stops PostgreSQL and Redis.

A child that dies on its own (the out-of-memory killer, a crash) is restarted
after a growing delay, and serve gives up, stopping everything, only when it
keeps dying within seconds of its start (web.restart_policy). Each death is
printed with the end of the child's log and recorded in Redis for the
operator page (shared.process_restarts); docs/operating.md#when-a-child-process-dies.
"""

from __future__ import annotations

import errno
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import redis

from shared.broker import BULK_QUEUE, QUEUE, WEBHOOK_QUEUE, redis_client
from shared.config import Settings
from shared.db import make_engine, make_sessions
from shared.demo import DemoCredentials, ensure_demo
from shared.errors import ConfigError
from shared.migrate import upgrade
from shared.process_restarts import ProcessDeath, record_death
from shared.services import connect
from web.child_processes import Child, stop_children, tail
from web.restart_policy import QUICK_DEATH_SECONDS, after_death

_UPLOADS_NODE = "--hostname=uploads@%h"
CHILD_COMMANDS = {
    "web": ["-m", "web", "web"],
    # Two pools: large files (shared.broker.BULK_QUEUE) get their own process,
    # so a million-code upload never keeps a ten-code one waiting.
    "worker": ["-m", "worker", "worker", f"--queues={QUEUE}", "--concurrency=2", _UPLOADS_NODE],
    "bulk-worker": ["-m", "worker", "worker", f"--queues={BULK_QUEUE}", "--concurrency=1", "--hostname=bulk@%h"],
    # The webhook deliveries in a process of their own, so that a receiver
    # that waits out its timeout never holds an upload's worker. Threads: a
    # delivery mostly waits on the network (docs/operating.md#the-processes).
    "webhook-worker": [
        "-m",
        "worker",
        "worker",
        f"--queues={WEBHOOK_QUEUE}",
        "--pool=threads",
        "--concurrency=4",
        "--hostname=webhooks@%h",
    ],
    "beat": ["-m", "worker", "beat"],
}
READY_TIMEOUT_SECONDS = 60.0
LOG_LINES_SHOWN = 15


def serve(settings: Settings) -> int:
    stop = StopRequest()
    _on_stop_signals(stop)
    started = time.monotonic()
    _refuse_a_taken_port(settings)
    settings = connect(settings)
    credentials = _prepare_database(settings)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children = [Child(name, command, log_dir / f"{name}.log") for name, command in CHILD_COMMANDS.items()]
    assert settings.redis_url is not None
    deaths = DeathReport(redis_client(settings.redis_url, timeout_seconds=1.0))
    try:
        for child in children:
            if not stop.requested:
                child.start()

        def announce() -> None:
            _print_banner(settings, credentials, log_dir, time.monotonic() - started)

        return _supervise(_health_url(settings), children, deaths, stop, announce)
    finally:
        stop_children(children)
        print("licensecodes: stopped.", flush=True)


def _refuse_a_taken_port(settings: Settings) -> None:
    """Fail at once when another program holds the port: the web child would
    otherwise die at every start, and serve give up only after its retries."""
    with socket.socket() as probe:
        # As gunicorn binds: a port left in TIME_WAIT by the last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                return  # another fault (a host that does not resolve): the web server reports it
            raise ConfigError(
                f"port {settings.port} on {settings.host} is already in use (another licensecodes serve?); "
                "stop that program, or set PORT to a free port"
            ) from None


def _prepare_database(settings: Settings) -> DemoCredentials | None:
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with make_sessions(engine).begin() as session:
            return ensure_demo(session, settings.data_dir, settings.secret_key)
    finally:
        engine.dispose()


class StopRequest:
    """Set by SIGINT and SIGTERM. A plain flag rather than a threading.Event,
    and the handler prints nothing: a handler runs between two bytecodes of
    the main thread, which may be inside a print (a second write to stdout
    then raises) or inside Event.wait holding the event's lock."""

    def __init__(self) -> None:
        self.requested = False

    def wait(self, seconds: float) -> bool:
        """Sleep, then return whether a stop was requested. A signal does not
        cut the sleep short (PEP 475): a stop waits at most `seconds`."""
        if not self.requested:
            time.sleep(seconds)
        return self.requested


def _on_stop_signals(stop: StopRequest) -> None:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def _supervise(
    health_url: str,
    children: list[Child],
    deaths: DeathReport,
    stop: StopRequest,
    announce: Callable[[], None],
) -> int:
    """Tend the children until a stop is requested (0) or serve gives up (1).
    Until the web first answers /healthz, also wait for that and announce it."""
    ready_by = time.monotonic() + READY_TIMEOUT_SECONDS
    ready = False
    while not stop.wait(0.2 if ready else 0.1):
        if not all(_tend(child, deaths) for child in children):
            return 1
        if not ready and _answers_ok(health_url):
            ready = True
            announce()
        elif not ready and time.monotonic() > ready_by:
            print(
                f"licensecodes: the web server did not answer {health_url} within {READY_TIMEOUT_SECONDS:.0f} s",
                flush=True,
            )
            _print_tail(children[0])
            return 1
    print("\nlicensecodes: stopping…", flush=True)
    return 0


def _tend(child: Child, deaths: DeathReport) -> bool:
    """Start a child whose restart is due, or deal with one that has just
    died. False when it keeps dying and serve must give up."""
    now = time.monotonic()
    if child.restart_at is not None and now >= child.restart_at:
        child.start()
        assert child.process is not None
        print(f"licensecodes: started the {child.name} process again (pid {child.process.pid}).", flush=True)
    if not child.has_died():
        return True
    up_seconds = now - child.started_at
    how = child.clear_remains()
    decision = after_death(child.history, up_seconds)
    deaths.report(child, how, up_seconds, decision.delay_seconds)
    if decision.delay_seconds is None:
        return False
    child.restart_at = now + decision.delay_seconds
    return True


class DeathReport:
    """Says that a child died, and what serve does about it: in serve's own
    output with the end of the child's log, and in Redis for the operator page."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def report(self, child: Child, how: str, up_seconds: float, restart_in: float | None) -> None:
        deaths = child.history.deaths
        line = f"licensecodes: the {child.name} process {how} after {up_seconds:.0f} s up "
        line += f"(death {deaths} since serve started); "
        if restart_in is None:
            line += (
                f"it died {child.history.quick_deaths_in_a_row} times in a row within {QUICK_DEATH_SECONDS:.0f} s "
                "of its start, which a restart does not mend: giving up and stopping everything."
            )
        else:
            line += f"restarting it in {restart_in:.0f} s."
        print(line, flush=True)
        _print_tail(child)
        death = ProcessDeath(child.name, datetime.now(UTC), how, round(up_seconds, 1), deaths, restart_in)
        try:
            record_death(self._client, death)
        except (redis.RedisError, OSError) as error:
            print(f"licensecodes: could not record this on the operator page ({error}).", flush=True)


def _print_tail(child: Child) -> None:
    end = tail(child.log_path, lines=LOG_LINES_SHOWN)
    if end:
        print(f"--- last lines of {child.log_path} ---\n{end}\n---", flush=True)


def _health_url(settings: Settings) -> str:
    return f"http://{_local_host(settings)}:{settings.port}/healthz"


def _local_host(settings: Settings) -> str:
    return "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _print_banner(settings: Settings, credentials: DemoCredentials | None, log_dir: Path, seconds: float) -> None:
    lines = [
        "",
        f"licensecodes is running (ready in {seconds:.1f} s)",
        f"  URL:      http://{_local_host(settings)}:{settings.port}",
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
