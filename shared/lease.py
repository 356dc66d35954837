"""Keeping a claim alive while a request is processed.

A thread with its own connection renews the lease every third of its length,
for as long as the work runs, long SQL statements included. When a renewal
finds the claim gone (the worker was paused past its lease and the sweep
gave the request to another), `check()` raises, and the fenced final update
would refuse anyway.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import states

log = logging.getLogger(__name__)


class ClaimLost(Exception):
    """This worker no longer holds the request: its work must change nothing."""


class LeaseKeeper:
    def __init__(self, engine: Engine, held: states.Claim, lease_seconds: int) -> None:
        self._engine = engine
        self._held = held
        self._lease_seconds = lease_seconds
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

    def check(self) -> None:
        if self._lost.is_set():
            raise ClaimLost(f"upload {self._held.request_id}: the claim was lost")

    def _run(self) -> None:
        while not self._stop.wait(self._lease_seconds / 3):
            try:
                with self._engine.begin() as connection:
                    held = states.renew_lease(connection, self._held, self._lease_seconds)
            except SQLAlchemyError:
                log.warning("upload %s: could not renew the lease", self._held.request_id, exc_info=True)
                continue  # the database may be back before the lease runs out
            if not held:
                self._lost.set()
                return
