"""The figures of GET /metrics, read at scrape time: the requests and the
withheld foreign duplicates from PostgreSQL, the sweep counts from Redis
(shared.sweep_counts).

Several gunicorn processes serve /metrics and the workers are processes of
their own, so counters kept in any one process would be a fraction of the
truth; the database holds all of it. Every figure is a count or an age over
upload_requests or the webhook tables, a handful of aggregate queries a
scrape, none of which reads a code, a key or a name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import Connection, Engine, text

from shared import doctor
from shared.code_counts import totals_by_status
from shared.models import DELIVERY_STATUSES, REQUEST_STATES
from shared.queue_view import DECIDED, PENDING, decisions_last_hour, withheld_totals
from shared.statuses import RequestStatus
from shared.sweep_counts import sweep_counts

log = logging.getLogger(__name__)

# From a ten-code file (tens of milliseconds) to the 20-minute window.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1200)
# The histograms describe the requests decided within this last stretch.
HISTOGRAM_SPAN = "1 hour"
STATEMENT_TIMEOUT_MS = 5000

# What each histogram measures, as SQL over one decided request.
_DURATIONS = {
    "processing": "extract(epoch FROM finished_at - started_at)",  # the Code Generator's last attempt
    "decision": "extract(epoch FROM finished_at - created_at)",  # what the publisher waited
}

# shared.sweep_counts' fields, as counters.
_SWEEP_COUNTERS = {
    "runs": ("licensecodes_sweep_runs", "Sweeps run by beat."),
    "expired_claims": ("licensecodes_sweep_expired_claims", "Claims released by the sweep after their lease ran out."),
    "dead_claims": (
        "licensecodes_sweep_dead_claims",
        "Claims released because their worker's database session had gone (a worker killed, say).",
    ),
    "failed": ("licensecodes_sweep_given_up", "Requests the sweep rejected as processing_failed (out of attempts)."),
    "published": ("licensecodes_sweep_republished", "Wake-up messages the sweep published again."),
}


class ServiceCollector(Collector):
    def __init__(self, engine: Engine, redis_client: redis.Redis, window_seconds: int) -> None:
        self._engine = engine
        self._redis = redis_client
        self._window_seconds = window_seconds

    def collect(self) -> Iterable[Metric]:
        # Gathered before anything is yielded: the connection goes back to
        # the pool at once, whatever the caller does with the generator.
        with self._engine.connect() as connection:
            connection.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            metrics = [
                _requests_by_state(connection),
                *_pending(connection, self._window_seconds),
                *_codes(connection),
                *_decisions(connection),
                *_durations(connection),
                *_withheld(connection),
                *_maintenance(connection, self._window_seconds),
                *_webhooks(connection),
            ]
        return [*metrics, *self._sweeps()]

    def _sweeps(self) -> list[Metric]:
        try:
            counts = sweep_counts(self._redis)
        except redis.RedisError:
            log.warning("metrics: the sweep counts are left out, Redis is unavailable", exc_info=True)
            return []
        return [CounterMetricFamily(name, doc, value=counts[field]) for field, (name, doc) in _SWEEP_COUNTERS.items()]


def _requests_by_state(connection: Connection) -> Metric:
    counts = dict.fromkeys(REQUEST_STATES, 0)
    counts.update(connection.execute(text("SELECT status, count(*) FROM upload_requests GROUP BY status")).all())
    family = GaugeMetricFamily("licensecodes_requests", "Upload requests by status.", labels=["status"])
    for status, count in counts.items():
        family.add_metric([status], count)
    return family


def _pending(connection: Connection, window_seconds: int) -> list[Metric]:
    # The partial index ix_upload_requests_pending serves this one.
    pending: Any = connection.execute(
        text(
            "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0), "
            "count(*) FILTER (WHERE deadline_at < now()) "
            f"FROM upload_requests WHERE {PENDING}"
        )
    ).one()
    oldest, overdue = float(pending[0]), int(pending[1])
    return [
        GaugeMetricFamily(
            "licensecodes_oldest_pending_age_seconds",
            "Age of the oldest undecided (queued or processing) request; 0 when there is none.",
            value=oldest,
        ),
        GaugeMetricFamily(
            "licensecodes_processing_window_seconds",
            "Every upload is to be decided within this (PROCESSING_WINDOW_MINUTES).",
            value=window_seconds,
        ),
        GaugeMetricFamily(
            "licensecodes_overdue_requests", "Undecided requests already past their deadline.", value=overdue
        ),
    ]


def _codes(connection: Connection) -> list[Metric]:
    # The maintained counts (shared.code_counts), never a count of the codes table.
    by_status = totals_by_status(connection)
    stored = GaugeMetricFamily(
        "licensecodes_codes_stored", "License codes stored, in all.", value=sum(by_status.values())
    )
    codes = GaugeMetricFamily("licensecodes_codes", "License codes stored, by status.", labels=["status"])
    for status, count in by_status.items():
        codes.add_metric([status], count)
    return [stored, codes]


def _decisions(connection: Connection) -> list[Metric]:
    rows = [(d.outcome, d.reason_code, d.last_minute, d.last_hour) for d in decisions_last_hour(connection)]
    labels = ["outcome", "reason_code"]
    last_minute = GaugeMetricFamily(
        "licensecodes_decisions_last_minute", "Requests decided in the last minute.", labels=labels
    )
    last_hour = GaugeMetricFamily(
        "licensecodes_decisions_last_hour", "Requests decided in the last hour.", labels=labels
    )
    if not any(status == RequestStatus.COMPLETED for status, *_ in rows):
        rows = [(RequestStatus.COMPLETED.value, "", 0, 0), *rows]  # always a series to alert on
    for status, reason_code, in_minute, in_hour in rows:
        last_minute.add_metric([status, reason_code], in_minute)
        last_hour.add_metric([status, reason_code], in_hour)
    return [last_minute, last_hour]


def _durations(connection: Connection) -> list[Metric]:
    columns = []
    for expression in _DURATIONS.values():
        columns += [f"count(*) FILTER (WHERE {expression} <= {bound})" for bound in DURATION_BUCKETS]
        columns += [f"count({expression})", f"coalesce(sum({expression}), 0)"]
    row = connection.execute(
        text(
            f"SELECT {', '.join(columns)} FROM upload_requests "
            f"WHERE {DECIDED} AND finished_at >= now() - interval '{HISTOGRAM_SPAN}'"
        )
    ).one()
    docs = {
        "processing": "Seconds from the worker's claim to the decision, of the requests decided in the last hour.",
        "decision": "Seconds from upload to decision, of the requests decided in the last hour.",
    }
    families: list[Metric] = []
    width = len(DURATION_BUCKETS) + 2
    for index, name in enumerate(_DURATIONS):
        values = row[index * width : (index + 1) * width]
        buckets = [(floatToGoString(bound), int(count)) for bound, count in zip(DURATION_BUCKETS, values, strict=False)]
        buckets.append(("+Inf", int(values[-2])))
        families.append(
            HistogramMetricFamily(
                f"licensecodes_{name}_seconds", docs[name], buckets=buckets, sum_value=float(values[-1])
            )
        )
    return families


def _withheld(connection: Connection) -> list[Metric]:
    # Counters: the budget rows they add up are never deleted.
    codes, requests = withheld_totals(connection)
    return [
        CounterMetricFamily(
            "licensecodes_foreign_duplicates_withheld",
            "Codes existing under another publisher that a publisher past its daily limit was not told of.",
            value=codes,
        ),
        CounterMetricFamily(
            "licensecodes_foreign_duplicate_limit_reached",
            "Rejections that withheld such codes (FOREIGN_DUPLICATES_PER_DAY was used up).",
            value=requests,
        ),
    ]


def _maintenance(connection: Connection, window_seconds: int) -> list[Metric]:
    """The doctor's figures (shared.doctor): what `licensecodes doctor` warns of, as numbers to alert on."""
    health = doctor.examine(connection, window_seconds, None)
    size = GaugeMetricFamily("licensecodes_table_bytes", "A table's size with its indexes.", labels=["table"])
    dead = GaugeMetricFamily("licensecodes_table_dead_rows", "Dead rows awaiting a vacuum.", labels=["table"])
    for table in health.tables:
        size.add_metric([table.name], table.total_bytes)
        dead.add_metric([table.name], table.dead_rows)
    metrics: list[Metric] = [
        GaugeMetricFamily("licensecodes_database_bytes", "The database's size on disk.", value=health.database_bytes),
        size,
        dead,
        GaugeMetricFamily(
            "licensecodes_maintenance_warnings",
            "What `licensecodes doctor` would warn of now: no backup or an old one, a request past "
            "its window, a webhook delivery overdue, dead rows.",
            value=len(doctor.advice(health)),
        ),
        GaugeMetricFamily(
            "licensecodes_webhook_oldest_due_age_seconds",
            "How long the most overdue pending webhook delivery has been due (past its next_attempt_at); "
            "0 when none is due. Stays near 0 while deliveries are sent.",
            value=health.oldest_due_delivery_seconds or 0.0,
        ),
    ]
    age = health.last_backup_age
    if age is not None:  # absent until the first backup: alert on absent() too
        metrics.append(
            GaugeMetricFamily(
                "licensecodes_last_backup_age_seconds",
                "Since the last `licensecodes backup`.",
                value=age.total_seconds(),
            )
        )
    return metrics


def _webhooks(connection: Connection) -> list[Metric]:
    """The outbox as it stands: gauges counted in the tables, so the finished
    deliveries are those the log retention keeps (WEBHOOK_LOG_RETENTION_DAYS)."""
    by_status = dict.fromkeys(DELIVERY_STATUSES, 0)
    by_status.update(connection.execute(text("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")).all())
    deliveries = GaugeMetricFamily(
        "licensecodes_webhook_deliveries",
        "Webhook deliveries in the delivery log, by status: pending (to be sent or retried), succeeded, "
        "failed (given up). Counted in the table, which keeps finished ones WEBHOOK_LOG_RETENTION_DAYS.",
        labels=["status"],
    )
    for status, count in by_status.items():
        deliveries.add_metric([status], count)
    disabled: int = connection.execute(text("SELECT count(*) FROM webhook_endpoints WHERE NOT enabled")).scalar_one()
    return [
        deliveries,
        GaugeMetricFamily(
            "licensecodes_webhook_endpoints_disabled",
            "Webhook endpoints disabled, by their publisher or after failing (a 410, or three days of failures).",
            value=int(disabled),
        ),
    ]
