"""What the sweeps did, added up across every beat run in Redis, so that
/metrics (any web process) can report counters the worker produced.

The counts are a monitoring aid, not state: losing them with Redis's memory
only resets the counters, which Prometheus handles as a restart.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

SWEEP_COUNTS_KEY = "licensecodes:sweep-counts"
# The fields of the sweep task's result (worker.tasks), plus the runs themselves.
SWEEP_FIELDS = ("runs", "expired_claims", "dead_claims", "failed", "published")


def record_sweep(client: redis.Redis, result: Mapping[str, int], run: bool = True) -> None:
    """Add a sweep's result; `run`: count it as one more run."""
    pipeline = client.pipeline(transaction=False)
    if run:
        pipeline.hincrby(SWEEP_COUNTS_KEY, "runs", 1)
    for field in SWEEP_FIELDS[1:]:
        if result.get(field):
            pipeline.hincrby(SWEEP_COUNTS_KEY, field, int(result[field]))
    pipeline.execute()


def sweep_counts(client: redis.Redis) -> dict[str, int]:
    """Every field, 0 when no sweep has counted it yet."""
    stored = client.hgetall(SWEEP_COUNTS_KEY)
    by_name = {key.decode() if isinstance(key, bytes) else key: int(value) for key, value in stored.items()}
    return {field: by_name.get(field, 0) for field in SWEEP_FIELDS}
