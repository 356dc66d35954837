"""The Celery application factory. Nothing connects at import."""

from __future__ import annotations

from celery import Celery

from shared.broker import SWEEP_TASK, celery_settings
from shared.config import Settings
from shared.runtime import Runtime
from worker.tasks import register_tasks


def make_celery(settings: Settings) -> Celery:
    assert settings.redis_url is not None, "connect the services first (shared.services.connect)"
    app = Celery("licensecodes")
    app.conf.update(celery_settings(settings.redis_url))
    app.conf.beat_schedule = {
        "sweep": {
            "task": SWEEP_TASK,
            "schedule": float(settings.sweep_interval_seconds),
            # A sweep that waited longer than one interval is stale: the next one comes anyway.
            "options": {"expires": float(settings.sweep_interval_seconds)},
        }
    }
    register_tasks(app, Runtime(settings))
    return app
