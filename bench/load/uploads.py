"""The database's account of the load's uploads, read after the load stops:
how long the queue took to drain, and how every request ended."""

from __future__ import annotations

import time
from typing import Any

import psycopg2

PENDING = "status IN ('queued', 'processing')"


def wait_until_drained(database_url: str, load_stopped: float, give_up_after: float) -> tuple[float, bool]:
    """Seconds from the end of the load until no request is queued or
    processing (polled every 100 ms), and whether that happened before
    giving up."""
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            while True:
                cursor.execute(f"SELECT count(*) FROM upload_requests WHERE {PENDING}")
                (pending,) = cursor.fetchone()
                waited = time.time() - load_stopped
                if pending == 0 or waited > give_up_after:
                    return waited, pending == 0
                time.sleep(0.1)
    finally:
        connection.close()


def account(database_url: str) -> dict[str, Any]:
    """Requests by status, codes stored, and upload-to-decision times by the server's clock."""
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM upload_requests GROUP BY status ORDER BY status")
            by_status = {status: count for status, count in cursor.fetchall()}
            cursor.execute(
                "SELECT coalesce(sum(code_count), 0),"
                " percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),"
                " percentile_disc(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))"
                " FROM upload_requests WHERE status = 'completed' AND NOT dry_run"
            )
            codes, p50, p95 = cursor.fetchone()
        return {
            "by_status": by_status,
            "codes_stored": int(codes),
            "upload_to_decided_seconds": {"p50": _number(p50), "p95": _number(p95)},
        }
    finally:
        connection.close()


def _number(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
