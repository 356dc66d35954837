"""The child processes `licensecodes serve` restarted, kept in Redis so that
the operator page (in the web process) can show what the supervisor did.

A short list, newest first, capped at KEPT entries: a monitoring aid like
the sweep counts (shared.sweep_counts), not state. Losing it with Redis's
memory loses only the history; the supervisor's own output keeps every line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

import redis

RESTARTS_KEY = "licensecodes:process-restarts"
KEPT = 100


@dataclass(frozen=True)
class ProcessDeath:
    """A child of serve that died on its own, and what serve did about it."""

    process: str  # the child's name: web, worker, bulk-worker, beat
    died_at: datetime  # when the supervisor noticed, UTC
    how: str  # "was killed by signal 9 (SIGKILL)", "exited with status 1"
    up_seconds: float
    deaths: int  # this child's deaths since serve started, this one included
    restart_in_seconds: float | None  # None: serve gave up and stopped everything

    @property
    def gave_up(self) -> bool:
        return self.restart_in_seconds is None


def record_death(client: redis.Redis, death: ProcessDeath) -> None:
    fields = asdict(death) | {"died_at": death.died_at.isoformat()}
    pipeline = client.pipeline(transaction=True)
    pipeline.lpush(RESTARTS_KEY, json.dumps(fields))
    pipeline.ltrim(RESTARTS_KEY, 0, KEPT - 1)
    pipeline.execute()


def recent_deaths(client: redis.Redis, limit: int = 20) -> list[ProcessDeath]:
    """The newest `limit` deaths, newest first; an entry that does not read
    (written by another version, say) is left out rather than failing the page."""
    deaths = []
    for raw in client.lrange(RESTARTS_KEY, 0, limit - 1):
        try:
            fields = json.loads(raw)
            fields["died_at"] = datetime.fromisoformat(fields["died_at"])
            deaths.append(ProcessDeath(**fields))
        except (ValueError, TypeError, KeyError):
            continue
    return deaths
