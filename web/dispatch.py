"""Wake-up calls to the Code Generator, sent after the upload is committed.

A message carries only the request id. Publishing may fail (Redis down):
the upload has already succeeded, and the sweep publishes again for any
request that waits too long, so a failure here is logged, never raised.
"""

from __future__ import annotations

import logging

from celery import Celery

from shared import log_context
from shared.broker import PROCESS_TASK, WEBHOOK_TASK, celery_settings, queue_for

log = logging.getLogger(__name__)


class Dispatcher:
    def __init__(self, redis_url: str) -> None:
        self._celery = Celery("licensecodes-web")
        self._celery.conf.update(celery_settings(redis_url))

    def request_processing(self, request_id: int, size_bytes: int) -> bool:
        with log_context.about(request_id=request_id):  # a new upload: its URL did not name it
            try:
                self._celery.send_task(PROCESS_TASK, args=[request_id], queue=queue_for(size_bytes))
            except Exception:  # kombu raises many kinds; any failure means "the sweep will do it"
                log.warning("upload %s: could not publish its message; the sweep will", request_id, exc_info=True)
                return False
            return True

    def webhooks_due(self) -> bool:
        """Wake the webhook delivery for a message just committed (a test, a
        replay); without it, beat's next round sends it within a second or so."""
        try:
            self._celery.send_task(WEBHOOK_TASK)
        except Exception:  # as above: beat's round does it
            log.warning("webhooks: could not publish a wake-up; beat's next round delivers", exc_info=True)
            return False
        return True
