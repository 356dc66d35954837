"""Which processes are using the embedded servers of a data directory.

A process attaches (registers its PID) before using the servers and detaches
when it exits; the last one to leave stops them. A holder killed with SIGKILL
cannot detach, so every read drops entries whose process is gone (matched by
PID and start time, so a recycled PID is not mistaken for the old holder).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Holder:
    pid: int
    started: float

    @classmethod
    def this_process(cls) -> Holder:
        return cls(os.getpid(), psutil.Process().create_time())

    def is_alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return process.create_time() == self.started and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


class HolderRegistry:
    """A JSON list of holders beside an exclusive lock file."""

    def __init__(self, run_dir: Path) -> None:
        self._path = run_dir / "holders.json"
        self._lock_path = run_dir / "embedded.lock"
        run_dir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialises start, attach, detach and stop across processes."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def live_holders(self) -> list[Holder]:
        """Call with the lock held."""
        try:
            raw = json.loads(self._path.read_text())
        except (FileNotFoundError, ValueError):
            raw = []
        holders = [Holder(int(item["pid"]), float(item["started"])) for item in raw]
        return [holder for holder in holders if holder.is_alive()]

    def save(self, holders: list[Holder]) -> None:
        """Call with the lock held."""
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps([{"pid": h.pid, "started": h.started} for h in holders]))
        temporary.replace(self._path)
