"""The tasks: thin. Each unpacks an id, opens what it needs, calls shared/.

`uploads.process` is a wake-up call for the queue of the request it names:
it claims the fairest queued request of that queue, which may be another
one (docs/architecture.md#fair-queuing), and a duplicate or late message
that finds nothing queued does nothing. `uploads.sweep` is what makes the processing window
hold when a message is lost or a worker dies
(docs/architecture.md#failures-and-what-holds); `uploads.release_dead_claims`,
its first step alone, runs every few seconds so that a dead worker's request
is taken again in seconds.
"""

from __future__ import annotations

import logging

import redis
from celery import Celery
from sqlalchemy.engine import Connection

from shared import loading, log_context, retention, states
from shared.broker import (
    DEAD_CLAIMS_TASK,
    FORGET_DELIVERIES_TASK,
    FORGET_FILES_TASK,
    POOL_TEND_TASK,
    PROCESS_TASK,
    SWEEP_TASK,
    WEBHOOK_TASK,
    queue_for,
)
from shared.errors import ClaimLost
from shared.events import deliveries, log_retention
from shared.pool import tending
from shared.runtime import Runtime
from shared.statuses import RequestStatus
from shared.sweep_counts import record_sweep

log = logging.getLogger(__name__)

# How long one run of webhooks.deliver starts new attempts (each may take
# WEBHOOK_TIMEOUT_SECONDS): short, so a slow receiver holds a worker process briefly.
WEBHOOK_RUN_SECONDS = 5.0


def register_tasks(app: Celery, runtime: Runtime) -> None:
    @app.task(name=PROCESS_TASK)
    def process_upload(request_id: int) -> str:
        with log_context.about(request_id=request_id):
            return _process(request_id)

    def _process(named_id: int) -> str:
        # One connection from the claim to the decision: its session is the
        # one the claim names, and lives as long as this worker does
        # (docs/architecture.md#a-dead-worker-noticed-in-seconds).
        with runtime.engine.connect() as connection:
            held = _claim(connection, named_id)
            if held is None:
                return "not claimed"  # nothing queued: decided, deleted, or other workers have them
            return _decide(connection, held, named_id)

    def _claim(connection: Connection, named_id: int) -> states.Claim | None:
        """The claim, and the name of the session that will do its work, in
        one transaction: no claim of a worker is ever without a session."""
        with connection.begin():
            held = states.claim(connection, named_id, runtime.settings.lease_seconds)
            if held is not None:
                states.record_backend(connection, held)
        return held

    def _decide(connection: Connection, held: states.Claim, named_id: int) -> str:
        request_id = held.request_id
        # Undone with the message's request id, by the task.
        log_context.bind(request_id=request_id, publisher_id=held.publisher_id)
        through = "" if request_id == named_id else f" through the message of upload {named_id}"
        log.info("upload %s: claimed (attempt %s)%s", request_id, held.attempt, through)
        settings = runtime.settings
        try:
            outcome = loading.decide(
                runtime.engine, held, settings.lease_seconds, settings.foreign_duplicates_per_day, connection
            )
        except ClaimLost:
            log.warning("upload %s: lost the claim; another worker decides it", request_id)
            return "claim lost"
        except Exception:
            log.exception("upload %s: the Code Generator failed; giving it back", request_id)
            with runtime.sessions.begin() as session:
                states.give_back(session, held)
            raise
        log.info("upload %s: %s", request_id, outcome)
        if outcome in (RequestStatus.COMPLETED, RequestStatus.REJECTED):
            _wake_deliveries(request_id)
        if outcome == RequestStatus.COMPLETED:
            _fill_backorders(held.publisher_id)
        return outcome

    def _wake_deliveries(request_id: int) -> None:
        """The decision has committed, and with it any webhook event it wrote:
        send it now rather than at beat's next round, up to a second away
        (docs/architecture.md#webhooks-the-outbox-and-delivery). A failure
        here costs only that second."""
        try:
            with runtime.sessions.begin() as session:
                due = deliveries.any_due(session)
            if due:
                deliver_webhooks.apply_async(kwargs={"woken_by": request_id})
        except Exception:  # the database or Redis unavailable: beat's round delivers
            log.warning("webhooks: could not wake the delivery; beat's next round sends it", exc_info=True)

    def _fill_backorders(publisher_id: int) -> None:
        """Right after the codes are stored: the backorders they can fill.
        A failure here costs only time: the beat fills them (pool.tend)."""
        try:
            filled = tending.fill_backorders(runtime.sessions, publisher_id)
        except Exception:
            log.exception("backorders of publisher %s: not filled now; the beat will", publisher_id)
            return
        if filled:
            log.info("backorders filled: %s", filled)

    def _publish(waiting: dict[int, int]) -> None:
        """A wake-up message for each request (id: size), on its size's queue."""
        for request_id, size in sorted(waiting.items()):
            process_upload.apply_async(args=[request_id], queue=queue_for(size))

    @app.task(name=SWEEP_TASK)
    def sweep() -> dict[str, int]:
        with runtime.sessions.begin() as session:
            dead = states.release_dead_claims(session)
            released = dead + states.release_expired_claims(session)
            waiting = dict(states.needing_a_message(session, runtime.settings.republish_after_seconds))
            waiting.update(_queued_again(released))
            states.mark_enqueued(session, sorted(waiting))
        _publish(waiting)
        failed = sum(1 for _, status, _ in released if status == RequestStatus.REJECTED)
        if released or waiting:
            log.info(
                "sweep: %s dead workers' claims, %s expired claims, %s given up, %s requests published",
                len(dead), len(released) - len(dead), failed, len(waiting),
            )  # fmt: skip
        result = {
            "expired_claims": len(released) - len(dead),
            "dead_claims": len(dead),
            "failed": failed,
            "published": len(waiting),
        }
        _count_sweep(runtime, result)
        return result

    @app.task(name=DEAD_CLAIMS_TASK)
    def release_dead_claims() -> dict[str, int]:
        """The sweep's first step alone, cheap enough to run every few
        seconds: the claims of workers whose database session has gone."""
        with runtime.sessions.begin() as session:
            released = states.release_dead_claims(session)
            waiting = _queued_again(released)
            states.mark_enqueued(session, sorted(waiting))
        _publish(waiting)
        failed = sum(1 for _, status, _ in released if status == RequestStatus.REJECTED)
        if released:
            log.info("dead workers' claims released: %s, %s of them given up", len(released), failed)
        result = {"dead_claims": len(released), "failed": failed, "published": len(waiting)}
        if released:
            _count_sweep(runtime, result, run=False)
        return result

    @app.task(name=WEBHOOK_TASK)
    def deliver_webhooks(woken_by: int | None = None) -> dict[str, int]:
        """The outbox's due deliveries, for a few seconds at most: beat sends
        this again soon, and another worker may take the rest meanwhile.
        `woken_by`: the upload whose decision sent this run."""
        settings = runtime.settings
        done = deliveries.deliver_due(runtime.sessions, settings.webhooks, settings.secret_key, WEBHOOK_RUN_SECONDS)
        if woken_by is not None:
            log.info("webhooks: woken by the decision of upload %s: %s attempts, %s succeeded",
                     woken_by, done.attempts, done.succeeded)  # fmt: skip
        elif done.attempts:
            log.info("webhooks: %s attempts, %s succeeded", done.attempts, done.succeeded)
        return {"attempts": done.attempts, "succeeded": done.succeeded}

    @app.task(name=POOL_TEND_TASK)
    def tend_pool() -> dict[str, int]:
        tended = tending.tend(runtime.sessions)
        if tended.expired or tended.filled:
            log.info("pool: %s reservations expired, %s backorders filled", tended.expired, tended.filled)
        return {"expired": tended.expired, "filled": tended.filled}

    @app.task(name=FORGET_FILES_TASK)
    def forget_old_files() -> dict[str, int]:
        forgotten = retention.forget_old_files(runtime.engine, runtime.settings.upload_retention_days)
        if forgotten.files:
            log.info(
                "uploaded files deleted after their retention: %s requests, %s files",
                forgotten.requests,
                forgotten.files,
            )
        return {"requests": forgotten.requests, "files": forgotten.files}

    @app.task(name=FORGET_DELIVERIES_TASK)
    def forget_old_deliveries() -> dict[str, int]:
        days = runtime.settings.webhooks.log_retention_days
        forgotten = log_retention.forget_old_deliveries(runtime.engine, days)
        if forgotten.deliveries or forgotten.messages:
            log.info(
                "webhook log deleted after its retention: %s deliveries, %s messages",
                forgotten.deliveries,
                forgotten.messages,
            )
        return {"deliveries": forgotten.deliveries, "messages": forgotten.messages}


def _queued_again(released: list[tuple[int, str, int]]) -> dict[int, int]:
    """The released requests that went back to queued, with their sizes."""
    return {request_id: size for request_id, status, size in released if status == RequestStatus.QUEUED}


def _count_sweep(runtime: Runtime, result: dict[str, int], run: bool = True) -> None:
    """For /metrics. The sweep has done its work by now: a Redis outage costs
    the counts, never the sweep. `run`: count it as a run of the sweep
    (the frequent check of dead workers' claims is not one)."""
    try:
        record_sweep(runtime.redis, result, run=run)
    except redis.RedisError:
        log.warning("sweep: not counted for /metrics, Redis is unavailable", exc_info=True)
