"""Fairness: a large file's wake-up call waits in its own queue (served by
its own worker pool), a small one's in the ordinary queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from shared.broker import BULK_BYTES, BULK_QUEUE, QUEUE, queue_for, redis_client
from shared.config import Settings
from web.dispatch import Dispatcher

SPARE_DATABASE = 15  # out of the way of the session's worker, which listens on database 0


def spare_database_url(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={SPARE_DATABASE}"
    return urlunsplit(parts._replace(path=f"/{SPARE_DATABASE}"))


@pytest.fixture
def spare_redis(settings: Settings) -> Iterator[str]:
    assert settings.redis_url is not None
    url = spare_database_url(settings.redis_url)
    client = redis_client(url)
    client.flushdb()
    yield url
    client.flushdb()


def test_files_over_the_bulk_size_go_to_the_bulk_queue() -> None:
    assert queue_for(10) == QUEUE
    assert queue_for(BULK_BYTES) == QUEUE
    assert queue_for(BULK_BYTES + 1) == BULK_QUEUE


def test_the_dispatcher_puts_each_wake_up_call_on_its_queue(spare_redis: str) -> None:
    dispatcher = Dispatcher(spare_redis)
    assert dispatcher.request_processing(7, size_bytes=200)
    assert dispatcher.request_processing(8, size_bytes=50 * BULK_BYTES)
    client = redis_client(spare_redis)
    assert (client.llen(QUEUE), client.llen(BULK_QUEUE)) == (1, 1)
    assert arguments_of(client.lindex(QUEUE, 0)) == [7]
    assert arguments_of(client.lindex(BULK_QUEUE, 0)) == [8]


def arguments_of(message: object) -> object:
    """The task arguments inside a kombu message as Redis holds it."""
    assert isinstance(message, bytes)
    body = json.loads(base64.b64decode(json.loads(message)["body"]))
    return body[0]
