"""The record of serve's restarts in Redis, read back by the operator page."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from shared.broker import redis_client
from shared.config import Settings
from shared.process_restarts import KEPT, RESTARTS_KEY, ProcessDeath, recent_deaths, record_death


def death(number: int, restart_in: float | None = 1.0) -> ProcessDeath:
    return ProcessDeath(
        "worker", datetime(2026, 12, 6, 10, 0, number % 60, tzinfo=UTC), "exited with status 1", 0.5, number, restart_in
    )


def empty_list(settings: Settings) -> redis.Redis:
    """The session's Redis, without the deaths an earlier test recorded."""
    client = redis_client(settings.redis_url or "")
    client.delete(RESTARTS_KEY)
    return client


def test_deaths_read_back_newest_first_as_they_were_recorded(settings: Settings) -> None:
    client = empty_list(settings)
    record_death(client, death(1))
    record_death(client, death(2, restart_in=None))

    assert recent_deaths(client) == [death(2, restart_in=None), death(1)]
    assert recent_deaths(client)[0].gave_up


def test_the_list_is_capped_and_an_unreadable_entry_is_left_out(settings: Settings) -> None:
    client = empty_list(settings)
    for number in range(KEPT + 10):
        record_death(client, death(number))
    client.lpush(RESTARTS_KEY, b"not json", b'{"process": "web"}')

    assert client.llen(RESTARTS_KEY) == KEPT + 2
    assert [d.deaths for d in recent_deaths(client, limit=5)] == [KEPT + 9, KEPT + 8, KEPT + 7]
