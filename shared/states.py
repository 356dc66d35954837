"""The life of an upload request, and every move it can make.

    queued ──claim──▶ processing ──complete──▶ completed
      │                  │  └──────reject───▶ rejected
      │                  └─ the worker's database session gone, its lease
      │                     expired, or the worker failed: back to queued,
      │                     or rejected `processing_failed` after
      │                     MAX_ATTEMPTS claims
      └──delete──▶ deleted

Each move is one guarded UPDATE (`… WHERE status = 'queued'`): PostgreSQL
re-checks the condition after taking the row lock, so of two racing moves
exactly one matches. A worker's moves are fenced by its claim token: a
worker that lost its claim (paused past its lease, say) changes nothing.
All times are the database's clock, never a host's. The statuses and their
named sets (PENDING, DECIDED, DELETABLE) are in shared.statuses; who makes
each move is drawn in docs/architecture.md#request-states.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal_column, select, text, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, aliased

from shared.backends import end_session, sessions_gone
from shared.broker import BULK_BYTES
from shared.errors import Conflict, NotFound
from shared.events import outbox
from shared.formats import Problem
from shared.models import UploadRequest
from shared.statuses import RequestStatus

MAX_ATTEMPTS = 3
MAX_LISTED_ERRORS = 100

PROCESSING_FAILED_REASON = (
    "The Code Generator failed on this file three times (a worker crashed, say). "
    "Nothing was stored; the operators have been alerted. You may upload the file again."
)


# A move runs in the caller's transaction: an ORM session, or a connection
# (the Code Generator's, which also carries its COPY).
Database = Session | Connection


@dataclass(frozen=True)
class Claim:
    request_id: int
    token: uuid.UUID
    attempt: int
    publisher_id: int


def _seconds(value: int) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, value)


def claim(session: Database, request_id: int, lease_seconds: int) -> Claim | None:
    """Take, for this worker woken by the message of `request_id`, the
    fairest queued request of that request's queue (`_fairest`), or else
    the named one if it is still queued; None when there is nothing to
    take (a duplicate or late message is then a no-op). The claim may
    name another request than the message did: docs/architecture.md#fair-queuing
    says why no request is left without a message."""
    chosen = session.scalar(_fairest(request_id))
    return _claim(session, request_id if chosen is None else chosen, lease_seconds)


def _fairest(request_id: int) -> Any:
    """The queued request of the same queue as `request_id` (small or bulk,
    shared.broker.queue_for) that is most owed a worker: its publisher's
    fewest requests in progress first, then the named one, then the oldest.
    Locked (FOR UPDATE) in the caller's transaction, skipping any row
    another transaction holds: two workers never choose the same one, and
    one that a delete or another claim is taking is left to them."""
    named = aliased(UploadRequest)
    busy = aliased(UploadRequest)
    bulk = select(named.size_bytes > BULK_BYTES).where(named.id == request_id).scalar_subquery()
    in_progress = (
        select(func.count())
        .where(busy.publisher_id == UploadRequest.publisher_id, busy.status == RequestStatus.PROCESSING)
        .scalar_subquery()
    )
    return (
        select(UploadRequest.id)
        .where(UploadRequest.status == RequestStatus.QUEUED, (UploadRequest.size_bytes > BULK_BYTES) == bulk)
        .order_by(in_progress, UploadRequest.id != request_id, UploadRequest.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=UploadRequest)
    )


def _claim(session: Database, request_id: int, lease_seconds: int) -> Claim | None:
    """queued → processing for this request, if it still is queued."""
    token = uuid.uuid4()
    claimed = session.execute(
        update(UploadRequest)
        .where(UploadRequest.id == request_id, UploadRequest.status == RequestStatus.QUEUED)
        .values(
            status=RequestStatus.PROCESSING,
            claim_token=token,
            lease_until=func.now() + _seconds(lease_seconds),
            attempts=UploadRequest.attempts + 1,
            started_at=func.now(),
            # From nothing: an earlier attempt's counts are not this one's.
            **_progress_values(0, 0),
        )
        .returning(UploadRequest.attempts, UploadRequest.publisher_id)
    ).first()
    return None if claimed is None else Claim(request_id, token, claimed.attempts, claimed.publisher_id)


def renew_lease(connection: Database, held: Claim, lease_seconds: int) -> bool:
    """Extend a claim still held; False when it was lost."""
    renewed = connection.scalar(
        update(UploadRequest)
        .where(_held(held))
        .values(lease_until=func.now() + _seconds(lease_seconds))
        .returning(UploadRequest.id)
    )
    return renewed is not None


def record_progress(connection: Database, held: Claim, lines: int, bytes_read: int) -> bool:
    """Note how far the claimed work has got (shared.loading.progress); False when
    the claim was lost, and then nothing is written."""
    recorded = connection.scalar(
        update(UploadRequest)
        .where(_held(held))
        .values(**_progress_values(lines, bytes_read))
        .returning(UploadRequest.id)
    )
    return recorded is not None


def record_backend(connection: Database, held: Claim) -> bool:
    """Name this connection's database session (pid and start) as the one
    doing the claim's work: the sweep ends it once the lease has run out
    (release_expired_claims), and releases the claim at once when it has
    gone (release_dead_claims). The worker calls it in the claim's own
    transaction, so no claim of its is ever without a session."""
    started: Any = (
        select(literal_column("backend_start"))
        .select_from(text("pg_stat_activity"))
        .where(literal_column("pid") == func.pg_backend_pid())
    )
    recorded = connection.scalar(
        update(UploadRequest)
        .where(_held(held))
        .values(claim_backend_pid=func.pg_backend_pid(), claim_backend_start=started.scalar_subquery())
        .returning(UploadRequest.id)
    )
    return recorded is not None


def complete(
    session: Database,
    held: Claim,
    code_count: int,
    summary: dict[str, Any] | None = None,
    codes_blob_id: int | None = None,
    codes_sha256: str | None = None,
) -> bool:
    """`codes_blob_id`: the download, when the Code Generator prepared one;
    `codes_sha256`: the download's SHA-256 (hex), prepared or not."""
    return _finish(
        session,
        held,
        status=RequestStatus.COMPLETED,
        code_count=code_count,
        summary=summary,
        codes_blob_id=codes_blob_id,
        codes_sha256=codes_sha256,
    )


def reject(
    session: Database, held: Claim, problems: Sequence[Problem], error_count: int, rows: int | None = None
) -> bool:
    """Reject with the first problem as the reason; `problems` in line order.
    `rows`: how many rows the file held, when known (one problem a row)."""
    first = problems[0]
    return _finish(
        session,
        held,
        status=RequestStatus.REJECTED,
        reason_code=first.reason_code,
        reason=first.message,
        errors=[problem.as_json() for problem in problems[:MAX_LISTED_ERRORS]],
        error_count=error_count,
        summary=None if rows is None else {"rows": rows, "valid_rows": max(rows - error_count, 0)},
    )


def give_back(session: Database, held: Claim) -> bool:
    """The worker failed on this request: queue it again, or reject it for
    good once it has been tried MAX_ATTEMPTS times."""
    given = session.execute(
        update(UploadRequest)
        .where(_held(held))
        .values(**_released_values())
        .returning(UploadRequest.id, UploadRequest.status)
    ).first()
    if given is not None and given.status == RequestStatus.REJECTED:
        outbox.requests_decided(session, [given.id])
    return given is not None


def delete(session: Session, publisher_id: int, request_id: int) -> int | None:
    """Delete a queued request of this publisher; return its blob id."""
    deleted = session.execute(
        update(UploadRequest)
        .where(
            UploadRequest.id == request_id,
            UploadRequest.publisher_id == publisher_id,
            UploadRequest.status == RequestStatus.QUEUED,
        )
        .values(status=RequestStatus.DELETED, finished_at=func.now())
        .returning(UploadRequest.blob_id)
    ).first()
    if deleted is not None:
        return deleted.blob_id
    status = session.scalar(
        select(UploadRequest.status).where(
            UploadRequest.id == request_id,
            UploadRequest.publisher_id == publisher_id,
            UploadRequest.status != RequestStatus.DELETED,
        )
    )
    if status is None:
        raise NotFound(f"there is no upload {request_id}")
    raise Conflict(f"upload {request_id} is {status}; only a queued upload can be deleted")


def mark_enqueued(session: Session, request_ids: Sequence[int]) -> None:
    if request_ids:
        session.execute(update(UploadRequest).where(UploadRequest.id.in_(request_ids)).values(enqueued_at=func.now()))


def release_expired_claims(session: Session) -> list[tuple[int, str, int]]:
    """Claims whose lease ran out (the worker died or hangs): back to queued,
    or rejected after MAX_ATTEMPTS. Answer (id, new status, size) of each.

    First the database sessions that did their work are ended, if they are
    still there: a hung worker's transaction keeps its locks on the codes it
    was inserting, and, paused between marking the request decided and its
    commit, on the request's own row, which the release below would skip for
    as long as the worker hangs."""
    for pid, started in session.execute(
        select(UploadRequest.claim_backend_pid, UploadRequest.claim_backend_start).where(
            UploadRequest.status == RequestStatus.PROCESSING, UploadRequest.lease_until < func.now()
        )
    ):
        if pid is not None and started is not None:  # None: the worker died before naming its session
            end_session(session, pid, started)
    expired = (
        select(UploadRequest.id)
        .where(UploadRequest.status == RequestStatus.PROCESSING, UploadRequest.lease_until < func.now())
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return _release(session, expired)


def release_dead_claims(session: Session) -> list[tuple[int, str, int]]:
    """Claims whose worker is gone, released without waiting for the lease:
    the database session the claim named (record_backend) has ended, as a
    killed worker's sessions do when the kernel closes its sockets. Back to
    queued, or rejected after MAX_ATTEMPTS, as release_expired_claims does,
    with the same answer. A claim that names no session (made before claims
    named one) waits for its lease."""
    named = session.execute(
        select(UploadRequest.id, UploadRequest.claim_backend_pid, UploadRequest.claim_backend_start).where(
            UploadRequest.status == RequestStatus.PROCESSING,
            UploadRequest.claim_backend_pid.is_not(None),
            UploadRequest.claim_backend_start.is_not(None),
        )
    ).all()
    gone = sessions_gone(session, {(row.claim_backend_pid, row.claim_backend_start) for row in named})
    dead = [tuple(row) for row in named if (row.claim_backend_pid, row.claim_backend_start) in gone]
    if not dead:
        return []
    # Still naming the dead session when locked: a claim released and taken
    # again meanwhile names a live one, and is left alone.
    still_dead = (
        select(UploadRequest.id)
        .where(
            UploadRequest.status == RequestStatus.PROCESSING,
            tuple_(UploadRequest.id, UploadRequest.claim_backend_pid, UploadRequest.claim_backend_start).in_(dead),
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return _release(session, still_dead)


def _release(session: Session, chosen: Any) -> list[tuple[int, str, int]]:
    """The claims of the requests `chosen` selects given up: back to queued,
    or rejected after MAX_ATTEMPTS; (id, new status, size) of each."""
    rows = session.execute(
        update(UploadRequest)
        .where(UploadRequest.id.in_(chosen))
        .values(**_released_values())
        .returning(UploadRequest.id, UploadRequest.status, UploadRequest.size_bytes)
    ).all()
    outbox.requests_decided(session, [row.id for row in rows if row.status == RequestStatus.REJECTED])
    return [(row.id, row.status, row.size_bytes) for row in rows]


def needing_a_message(session: Session, republish_after_seconds: int) -> list[tuple[int, int]]:
    """Queued requests whose message may have been lost: given back by a
    worker or the sweep (never published since), or published more than
    `republish_after_seconds` ago and still waiting."""
    cutoff = func.now() - _seconds(republish_after_seconds)
    return list(
        session.execute(
            select(UploadRequest.id, UploadRequest.size_bytes)
            .where(
                UploadRequest.status == RequestStatus.QUEUED,
                UploadRequest.enqueued_at.is_(None) | (UploadRequest.enqueued_at < cutoff),
            )
            .order_by(UploadRequest.id)
            .with_for_update(skip_locked=True)
        )
    )


def _held(held: Claim) -> Any:
    return (
        (UploadRequest.id == held.request_id)
        & (UploadRequest.claim_token == held.token)
        & (UploadRequest.status == RequestStatus.PROCESSING)
    )


def _finish(session: Database, held: Claim, **values: Any) -> bool:
    finished = session.scalar(
        update(UploadRequest)
        .where(_held(held))
        # Not now(): that is when the worker's long transaction began.
        .values(
            finished_at=func.statement_timestamp(),
            claim_token=None,
            lease_until=None,
            **_progress_values(None, None),
            **values,
        )
        .returning(UploadRequest.id)
    )
    if finished is None:
        return False
    # The webhook event, in the transaction of the decision (docs/architecture.md#webhooks-the-outbox-and-delivery).
    outbox.requests_decided(session, [finished])
    return True


def _released_values() -> dict[str, Any]:
    exhausted = UploadRequest.attempts >= MAX_ATTEMPTS
    return {
        "status": case((exhausted, RequestStatus.REJECTED.value), else_=RequestStatus.QUEUED.value),
        "reason_code": case((exhausted, "processing_failed"), else_=None),
        "reason": case((exhausted, PROCESSING_FAILED_REASON), else_=None),
        "error_count": case((exhausted, literal_column("0")), else_=UploadRequest.error_count),
        "finished_at": case((exhausted, func.now()), else_=None),
        "claim_token": None,
        "lease_until": None,
        "enqueued_at": None,
        **_progress_values(None, None),  # a dead worker's counts are no one's
    }


def _progress_values(lines: int | None, bytes_read: int | None) -> dict[str, Any]:
    """Progress exists only while processing (a CHECK constraint says so)."""
    return {"lines_checked": lines, "bytes_checked": bytes_read}
