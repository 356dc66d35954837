"""The tasks: thin. Each unpacks an id, opens what it needs, calls shared/.

`uploads.process` is a wake-up call for the queue of the request it names:
it claims the fairest queued request of that queue, which may be another
one (docs/architecture.md#fair-queuing), and a duplicate or late message
that finds nothing queued does nothing. `uploads.sweep` is what makes the processing window
hold when a message is lost or a worker dies
(docs/architecture.md#failures-and-what-holds).
"""

from __future__ import annotations

import logging

import redis
from celery import Celery

from shared import loading, log_context, states
from shared.broker import PROCESS_TASK, SWEEP_TASK, queue_for
from shared.errors import ClaimLost
from shared.runtime import Runtime
from shared.statuses import RequestStatus
from shared.sweep_counts import record_sweep

log = logging.getLogger(__name__)


def register_tasks(app: Celery, runtime: Runtime) -> None:
    @app.task(name=PROCESS_TASK)
    def process_upload(request_id: int) -> str:
        with log_context.about(request_id=request_id):
            return _process(request_id)

    def _process(named_id: int) -> str:
        with runtime.sessions.begin() as session:
            held = states.claim(session, named_id, runtime.settings.lease_seconds)
        if held is None:
            return "not claimed"  # nothing queued: decided, deleted, or other workers have them
        request_id = held.request_id
        # Undone with the message's request id, by the task.
        log_context.bind(request_id=request_id, publisher_id=held.publisher_id)
        through = "" if request_id == named_id else f" through the message of upload {named_id}"
        log.info("upload %s: claimed (attempt %s)%s", request_id, held.attempt, through)
        try:
            outcome = loading.decide(
                runtime.engine, held, runtime.settings.lease_seconds, runtime.settings.foreign_duplicates_per_day
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
        return outcome

    @app.task(name=SWEEP_TASK)
    def sweep() -> dict[str, int]:
        with runtime.sessions.begin() as session:
            released = states.release_expired_claims(session)
            waiting = dict(states.needing_a_message(session, runtime.settings.republish_after_seconds))
            waiting.update(
                (request_id, size) for request_id, status, size in released if status == RequestStatus.QUEUED
            )
            states.mark_enqueued(session, sorted(waiting))
        for request_id, size in sorted(waiting.items()):
            process_upload.apply_async(args=[request_id], queue=queue_for(size))
        failed = sum(1 for _, status, _ in released if status == RequestStatus.REJECTED)
        if released or waiting:
            log.info(
                "sweep: %s expired claims, %s given up, %s requests published", len(released), failed, len(waiting)
            )
        result = {"expired_claims": len(released), "failed": failed, "published": len(waiting)}
        _count_sweep(runtime, result)
        return result


def _count_sweep(runtime: Runtime, result: dict[str, int]) -> None:
    """For /metrics. The sweep has done its work by now: a Redis outage costs
    the counts, never the sweep."""
    try:
        record_sweep(runtime.redis, result)
    except redis.RedisError:
        log.warning("sweep: not counted for /metrics, Redis is unavailable", exc_info=True)
