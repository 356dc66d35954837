"""The Celery application factory. Nothing connects at import."""

from __future__ import annotations

from celery import Celery

from shared.broker import celery_settings
from shared.config import Settings


def make_celery(settings: Settings) -> Celery:
    assert settings.redis_url is not None, "connect the services first (shared.services.connect)"
    app = Celery("licensecodes")
    app.conf.update(celery_settings(settings.redis_url))
    app.conf.beat_schedule_filename = str(settings.data_dir / "celerybeat-schedule")
    return app
