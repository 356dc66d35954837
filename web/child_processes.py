"""The child processes of `licensecodes serve`: starting one in its own
process group with its own log, noticing its death, clearing what it left,
and stopping them all in order."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from web.restart_policy import DeathHistory

STOP_TIMEOUT_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One child: its command line, and its present process when it has one
    (None while a restart is pending)."""

    name: str
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.monotonic() of the last start
    restart_at: float | None = None  # time.monotonic() when a pending restart is due
    history: DeathHistory = field(default_factory=DeathHistory)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.command],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own group: Ctrl-C reaches the supervisor alone, and
                # the group is what is killed when the child is gone.
                process_group=0,
                preexec_fn=_die_with_parent,
            )
        self.started_at = time.monotonic()
        self.restart_at = None

    def has_died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def clear_remains(self) -> str:
        """Kill what the dead child left in its group (gunicorn workers, Celery
        pool processes, which would hold the port or a claimed request) and
        return how it died."""
        assert self.process is not None and self.process.returncode is not None
        how = death_description(self.process.returncode)
        _kill_group(self.process.pid)
        self.process = None
        return how


def death_description(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by signal {-returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright,
    the kernel sends the child SIGTERM, so nothing is left behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_children(children: list[Child]) -> None:
    """SIGTERM each running child (gunicorn and Celery shut down gracefully),
    then SIGKILL the whole process group of any that are still running."""
    running = [child for child in children if child.process is not None]
    for child in running:
        assert child.process is not None
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"licensecodes: the {child.name} process did not stop in time; killing it.", flush=True)
        _kill_group(child.process.pid)
        child.process.wait()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int, most_bytes: int = 64 * 1024) -> str:
    """The last `lines` lines of a log, read from its end: a log that ran
    for months is not read whole at every restart."""
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - most_bytes))
            end = log.read()
    except OSError:
        return ""
    return "\n".join(end.decode(errors="replace").rstrip("\n").split("\n")[-lines:])
