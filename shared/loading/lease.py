"""Keeping a claim alive while a request is processed, and saying how far
the work has got.

A thread with its own connection renews the lease every third of its length,
for as long as the work runs, long SQL statements included. When a renewal
finds the claim gone (the worker was paused past its lease and the sweep
gave the request to another), `check_claim()` raises, and the fenced final update
would refuse anyway.

The same thread writes the work's progress (shared.loading.progress) about once a
second, fenced by the claim the same way, in a short transaction of its own:
the processing transaction stays free of it, and a count that did not move
is not written again.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import states
from shared.errors import ClaimLost
from shared.loading.progress import Progress

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 1.0


class LeaseKeeper:
    def __init__(
        self, engine: Engine, held: states.Claim, lease_seconds: int, progress: Progress | None = None
    ) -> None:
        self._engine = engine
        self._held = held
        self._lease_seconds = lease_seconds
        self._progress = progress
        self._written = (0, 0)  # what the claim set: nothing checked yet
        self._stop = threading.Event()
        self._lost = threading.Event()
        # In the caller's context: its lines name the request (shared.log_context).
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), name=f"lease-{held.request_id}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check_claim(self) -> None:
        """Raise ClaimLost once a renewal has found the claim gone."""
        if self._lost.is_set():
            raise ClaimLost(f"upload {self._held.request_id}: the claim was lost")

    def _run(self) -> None:
        renew_every = self._lease_seconds / 3
        tick = min(renew_every, PROGRESS_SECONDS) if self._progress is not None else renew_every
        renew_at = time.monotonic() + renew_every
        while not self._stop.wait(max(0.0, min(tick, renew_at - time.monotonic()))):
            due = time.monotonic() >= renew_at - 0.01  # a wait may end a hair early
            reading = self._reading()
            if not due and reading == self._written:
                continue
            try:
                with self._engine.begin() as connection:
                    held = states.renew_lease(connection, self._held, self._lease_seconds) if due else True
                    if held and reading != self._written:
                        held = states.record_progress(connection, self._held, *reading)
            except SQLAlchemyError:
                # The database may be back before the lease runs out; a
                # progress write alone that failed is simply made later.
                if due:
                    log.warning("upload %s: could not renew the lease", self._held.request_id, exc_info=True)
                    renew_at = time.monotonic() + tick
                continue
            if not held:
                self._lost.set()
                return
            self._written = reading
            if due:
                renew_at = time.monotonic() + renew_every

    def _reading(self) -> tuple[int, int]:
        """Lines and bytes checked so far."""
        if self._progress is None:
            return self._written
        return self._progress.lines, self._progress.bytes_read
