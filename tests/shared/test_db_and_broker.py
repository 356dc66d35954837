"""The URLs the operator writes, as SQLAlchemy and kombu need them, and the
queue settings that producers and workers must share (pure, no servers)."""

from __future__ import annotations

import pytest
from celery.app.defaults import DEFAULTS as CELERY_SETTING_NAMES

from shared.broker import celery_settings, kombu_url
from shared.db import database_url


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_bare_postgresql_url_names_psycopg2_and_keeps_the_rest(scheme: str) -> None:
    url = database_url(f"{scheme}://lc:p%40ss@db.example:5433/licensecodes?sslmode=require")

    assert url.drivername == "postgresql+psycopg2"
    assert (url.username, url.password, url.host, url.port) == ("lc", "p@ss", "db.example", 5433)
    assert url.database == "licensecodes"
    assert dict(url.query) == {"sslmode": "require"}
    assert url.render_as_string(hide_password=False) == (
        "postgresql+psycopg2://lc:p%40ss@db.example:5433/licensecodes?sslmode=require"
    )


def test_a_socket_directory_in_the_host_query_is_kept() -> None:
    url = database_url("postgresql://embedded_postgres@/licensecodes?host=/tmp/lc-data/postgres")

    assert url.drivername == "postgresql+psycopg2"
    assert url.host is None
    assert url.database == "licensecodes"
    assert dict(url.query) == {"host": "/tmp/lc-data/postgres"}


def test_a_url_that_already_names_psycopg2_is_unchanged() -> None:
    url = database_url("postgresql+psycopg2://lc@db.example/licensecodes")

    assert url.render_as_string(hide_password=False) == "postgresql+psycopg2://lc@db.example/licensecodes"


def test_a_unix_socket_url_becomes_kombus_redis_socket_url() -> None:
    assert kombu_url("unix:///tmp/lc-data/redis/redis.sock") == "redis+socket:///tmp/lc-data/redis/redis.sock"


@pytest.mark.parametrize(
    "redis_url", ["redis://localhost:6379/0", "redis://:pw@broker.example:6380/2", "rediss://broker.example:6380/0"]
)
def test_a_tcp_redis_url_is_left_alone(redis_url: str) -> None:
    assert kombu_url(redis_url) == redis_url


def test_the_celery_broker_url_is_the_kombu_spelling() -> None:
    assert celery_settings("unix:///tmp/r.sock")["broker_url"] == "redis+socket:///tmp/r.sock"
    assert celery_settings("redis://broker.example:6379/1")["broker_url"] == "redis://broker.example:6379/1"


def test_a_task_is_acknowledged_after_it_ran_and_given_back_when_its_process_dies() -> None:
    config = celery_settings("redis://localhost/0")

    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True


def test_a_worker_process_takes_one_message_at_a_time() -> None:
    assert celery_settings("redis://localhost/0")["worker_prefetch_multiplier"] == 1


def test_messages_are_json_only() -> None:
    config = celery_settings("redis://localhost/0")

    assert config["task_serializer"] == "json"
    assert config["accept_content"] == ["json"]


def test_no_results_are_stored() -> None:
    config = celery_settings("redis://localhost/0")

    assert config["task_ignore_result"] is True
    assert config["result_backend"] is None


def test_the_visibility_timeout_outlasts_the_task_time_limit() -> None:
    # Otherwise Redis hands a running task to a second worker.
    config = celery_settings("redis://localhost/0")

    time_limit = config["task_time_limit"]
    assert isinstance(time_limit, int) and time_limit > 0
    assert config["broker_transport_options"]["visibility_timeout"] > time_limit


def test_every_setting_is_one_celery_knows() -> None:
    # A misspelt setting is silently ignored by Celery.
    unknown = set(celery_settings("redis://localhost/0")) - set(CELERY_SETTING_NAMES)

    assert unknown == set()
