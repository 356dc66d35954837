"""The Redis broker as both sides see it.

Settings hold a redis-py URL (`redis://…`, `rediss://…`, or `unix:///path`
for the embedded server); kombu spells a Unix socket `redis+socket://`.
The queue settings live here because producer (web) and consumer (worker)
must agree on them, the visibility timeout above all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis

# Redis has no real acknowledgements: kombu hands a message that was taken
# but not acknowledged within this many seconds to another worker. It must be
# longer than any task may run (see TASK_TIME_LIMIT_SECONDS) and the same in
# every producer and worker.
VISIBILITY_TIMEOUT_SECONDS = 3600
TASK_TIME_LIMIT_SECONDS = 1800

# Fairness: a file over BULK_BYTES (about 30,000 codes) waits in its own
# queue, served by its own worker process, so that a million-code upload never
# holds up the ten-code ones behind it. A worker started without -Q serves both.
QUEUE = "uploads"
BULK_QUEUE = "uploads.bulk"
BULK_BYTES = 1024 * 1024
# Webhook deliveries wait in their own queue, so that an operator can give
# them a worker of their own (docs/operating.md#the-processes).
WEBHOOK_QUEUE = "webhooks"

# The tasks, by name: the web sends them by name and never imports the worker.
PROCESS_TASK = "uploads.process"
SWEEP_TASK = "uploads.sweep"
DEAD_CLAIMS_TASK = "uploads.release_dead_claims"
POOL_TEND_TASK = "pool.tend"
WEBHOOK_TASK = "webhooks.deliver"
FORGET_FILES_TASK = "uploads.forget_old_files"
FORGET_DELIVERIES_TASK = "webhooks.forget_old_deliveries"


def queue_for(size_bytes: int) -> str:
    return BULK_QUEUE if size_bytes > BULK_BYTES else QUEUE


def kombu_url(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    # redis-py reads a socket URL's database from `db`, kombu from
    # `virtual_host`: both sides must use the same database.
    query = [("virtual_host" if key == "db" else key, value) for key, value in parse_qsl(parts.query)]
    return f"redis+socket://{parts.path}" + (f"?{urlencode(query)}" if query else "")


def redis_client(redis_url: str, timeout_seconds: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)


def celery_settings(redis_url: str) -> dict[str, Any]:
    """Celery configuration for producers and workers alike. PostgreSQL holds
    every request's state; a message is only a wake-up call carrying an id
    (docs/architecture.md#failures-and-what-holds), so results are not stored and a lost message is
    recovered by the sweep rather than by the broker."""
    transport_options = {
        "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
        # Above kombu's 1 s BRPOP, short enough that a dead Redis cannot
        # hang a web request for long.
        "socket_timeout": 10,
        "socket_connect_timeout": 2,
    }
    return {
        "broker_url": kombu_url(redis_url),
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "task_default_queue": QUEUE,
        "task_routes": {WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        "result_backend": None,
        # Acknowledge after the task ran, and give a task back when its
        # process is killed, so a crash never silently drops a request.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message at a time per process: a long request must not hold
        # short ones hostage in its prefetch buffer.
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_TIME_LIMIT_SECONDS,
        # A producer must not hang a web request while Redis is down.
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
    }
