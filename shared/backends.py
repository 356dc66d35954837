"""The database sessions that do claimed work (shared.states.record_backend
names one on its request): which of them have gone, and ending one that
outlived its claim's lease. A session is named by its pid and its start
together: PostgreSQL may give a pid to a new session once the old one ended."""

from __future__ import annotations

import datetime
import logging

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# pg_terminate_backend's wait (PostgreSQL 14 and newer) for an ended session to go.
END_SESSION_WAIT_MS = 5000


def sessions_gone(session: Session, named: set[tuple[int, datetime.datetime]]) -> set[tuple[int, datetime.datetime]]:
    """Those of the sessions (pid, start) that are no longer in
    pg_stat_activity. Its snapshot is taken afresh, after the claims naming
    them were read: each named session had started by then, so one missing
    from the snapshot has ended (a pid alone may have been reused, hence the
    start). A session whose start this role may not see (another role's,
    without pg_read_all_stats) counts as alive: the lease decides for it."""
    if not named:
        return set()
    session.execute(select(func.pg_stat_clear_snapshot()))  # PostgreSQL keeps one per transaction
    listed = session.execute(
        text("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = ANY(:pids)"),
        {"pids": sorted({pid for pid, _ in named})},
    ).all()
    alive = {(pid, started) for pid, started in listed}
    unseen = {pid for pid, started in listed if started is None}
    return {(pid, started) for pid, started in named if (pid, started) not in alive and pid not in unseen}


def end_session(session: Session, pid: int, started: datetime.datetime) -> None:
    """End the session with this pid and start (a pid alone may have been
    reused), if it still runs, and wait (up to END_SESSION_WAIT_MS) until it
    has gone and its locks with it. A role may end its own sessions; where it
    may not, the release waits for the locks as before."""
    try:
        with session.begin_nested():
            session.execute(
                text(
                    "SELECT pg_terminate_backend(pid, :wait_ms) FROM pg_stat_activity "
                    "WHERE pid = :pid AND backend_start = :started AND pid <> pg_backend_pid()"
                ),
                {"pid": pid, "started": started, "wait_ms": END_SESSION_WAIT_MS},
            )
    except SQLAlchemyError:
        log.warning("could not end the database session %s of an expired claim", pid, exc_info=True)
