"""Embedded PostgreSQL and Redis, one pair per data directory, shared by
every process that uses that directory.

`attach` starts the servers when absent (under a lock, so two processes
starting at once start one pair), registers the calling process as a holder
and arranges for it to detach at exit; the last holder to detach stops both.
Every process (web, worker, beat, each CLI command, the test session) goes
through here, so the embedded path is the production path with URLs that
point at a local directory.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from shared.embedded import postgres, redis
from shared.embedded.holders import Holder, HolderRegistry

_attached: dict[Path, tuple[str, str]] = {}


def attach(data_dir: Path) -> tuple[str, str]:
    """Answer (database URL, Redis URL), starting the servers if needed."""
    data_dir = data_dir.resolve()
    if data_dir in _attached:
        return _attached[data_dir]
    registry = HolderRegistry(data_dir / "run")
    me = Holder.this_process()
    with registry.locked():
        holders = registry.live_holders()
        try:
            urls = (postgres.ensure_running(data_dir / "postgres"), redis.ensure_running(data_dir / "redis"))
        except BaseException:
            if not holders:
                _stop_servers(data_dir)
            raise
        registry.save([*holders, me])
    _attached[data_dir] = urls
    atexit.register(detach, data_dir, me)
    _exit_normally_on_sigterm()
    return urls


def detach(data_dir: Path, holder: Holder) -> None:
    """Drop `holder`; stop the servers when no live holder remains."""
    if os.getpid() != holder.pid:
        return  # a forked child inherited the parent's atexit hooks
    registry = HolderRegistry(data_dir / "run")
    with registry.locked():
        remaining = [h for h in registry.live_holders() if h != holder]
        registry.save(remaining)
        if not remaining:
            _stop_servers(data_dir)
    _attached.pop(data_dir, None)


def running_holders(data_dir: Path) -> list[Holder]:
    registry = HolderRegistry(data_dir.resolve() / "run")
    with registry.locked():
        return registry.live_holders()


def _stop_servers(data_dir: Path) -> None:
    redis.stop(data_dir / "redis")
    postgres.stop(data_dir / "postgres")


def _exit_normally_on_sigterm() -> None:
    """Python's default SIGTERM kills the process without running atexit
    hooks, which would leave the servers running for ever. Celery and
    gunicorn install their own handlers later and exit normally anyway."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
