"""The Celery application factory. Nothing connects at import."""

from __future__ import annotations

from typing import Any

from celery import Celery

from shared.broker import (
    DEAD_CLAIMS_TASK,
    FORGET_DELIVERIES_TASK,
    FORGET_FILES_TASK,
    POOL_TEND_TASK,
    SWEEP_TASK,
    WEBHOOK_TASK,
    celery_settings,
)
from shared.config import Settings
from shared.runtime import Runtime
from worker.tasks import register_tasks


def make_celery(settings: Settings) -> Celery:
    assert settings.redis_url is not None, "connect the services first (shared.services.connect)"
    app = Celery("licensecodes")
    app.conf.update(celery_settings(settings.redis_url))
    app.conf.beat_schedule = {
        "sweep": _every(SWEEP_TASK, settings.sweep_interval_seconds),
        # The sweep's first step alone, often: a dead worker's request is
        # taken again within seconds (docs/operating.md#settings).
        "dead-claims": _every(DEAD_CLAIMS_TASK, settings.dead_claims_interval_seconds),
        # Reservations expire within a minute of their end; backorders left
        # waiting by a crash are filled (docs/architecture.md#the-code-pool).
        "pool": _every(POOL_TEND_TASK, settings.pool_tend_seconds),
        # The outbox's due deliveries, new and retried: a retry survives a
        # worker's or Redis's restart (docs/architecture.md#webhooks-the-outbox-and-delivery).
        "webhooks": _every(WEBHOOK_TASK, settings.webhooks.poll_seconds),
        # Uploaded files past their retention, deleted in small batches
        # (docs/product.md#how-long-uploaded-files-are-kept).
        "retention": _every(FORGET_FILES_TASK, RETENTION_SECONDS),
        # The webhook delivery log past its retention, in small batches
        # (docs/operating.md#routine-maintenance).
        "webhook-log-retention": _every(FORGET_DELIVERIES_TASK, RETENTION_SECONDS),
    }
    register_tasks(app, Runtime(settings, "licensecodes worker"))
    return app


# How often both retentions run: the uploaded files' and the webhook delivery log's.
RETENTION_SECONDS = 600


def _every(task: str, seconds: int) -> dict[str, Any]:
    # A message that waited longer than one interval is stale: the next one comes anyway.
    return {"task": task, "schedule": float(seconds), "options": {"expires": float(seconds)}}
