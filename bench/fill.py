"""Filling the server for the scale mode (bench/README.md#the-scale-mode):
codes through the real upload path, and requests by a shortcut in SQL that
leaves the rows the real path would.

Codes go in as 2,000,000-code TXT files through the HTTP API, like an
operator's; the next file is written, and posted, while the previous one is
processed, so the Code Generator never waits for the bench. Requests are
copies of real decided requests that stored no codes (rejected ones and
dry runs), because 100,000 uploads through the API would take hours.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg2

from bench.files import write_fill_txt
from bench.service import MemoryPeaks, Server, status, upload

FILL_FILE_CODES = 2_000_000  # the most one request may hold
MB = 2**20
# What a copy of a request does not take from its template: the columns that
# must stay unique. And the tables of a request's own rows that are copied
# with it. tests/test_bench.py holds both to the models, so a unique column
# or a table of per-request rows added later makes it fail, not the fill
# leave rows the real path would not.
NOT_COPIED = ("id", "idempotency_key", "confirmed_from_id")
COPIED_WITH_A_REQUEST = ("upload_problems",)
# Copies are spread back in time this far apart, so that /metrics and the
# operator page see the last hour's decisions they would see on a real server.
SECONDS_BETWEEN_COPIES = 20


def stored_codes(database_url: str, product_id: int | None = None) -> int:
    """Codes on the server (or of one product), summed over the completed
    requests that stored them: exact, and cheap where count(*) is not."""
    query = "SELECT coalesce(sum(code_count), 0) FROM upload_requests WHERE status = 'completed' AND NOT dry_run"
    with _connection(database_url) as connection, connection.cursor() as cursor:
        if product_id is None:
            cursor.execute(query)
        else:
            cursor.execute(query + " AND product_id = %s", (product_id,))
        return int(cursor.fetchone()[0])


def fill_codes(server: Server, work: Path, product_id: int, target: int) -> dict[str, Any]:
    """Upload codes for the product until the server holds `target` codes."""
    before = stored_codes(server.database_url)
    sizes = [min(FILL_FILE_CODES, target - at) for at in range(before, target, FILL_FILE_CODES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(1) as writer, MemoryPeaks(server) as memory:
        # One request processing and the next queued behind it, and the file
        # after that being written: the bench never keeps the worker waiting.
        pending: deque[int] = deque()
        upcoming = writer.submit(_fill_file, work / "fill-1.txt", sizes[0], product_id) if sizes else None
        for number in range(1, len(sizes) + 1):
            assert upcoming is not None
            path = upcoming.result()
            if number < len(sizes):
                upcoming = writer.submit(_fill_file, work / f"fill-{number + 1}.txt", sizes[number], product_id)
            pending.append(upload(server, path))
            path.unlink()
            if len(pending) > 1:
                _completed(server, pending.popleft(), number - 1, len(sizes), started)
        while pending:
            _completed(server, pending.popleft(), len(sizes), len(sizes), started)
    return {
        "codes_before": before,
        "codes_after": stored_codes(server.database_url),
        "uploads": len(sizes),
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": {role: round(value / MB, 1) for role, value in memory.peaks.items()},
    }


def _fill_file(path: Path, size: int, product_id: int) -> Path:
    write_fill_txt(path, size, product_id)
    return path


def _completed(server: Server, upload_id: int, done: int, of: int, started: float) -> None:
    while (body := status(server, upload_id))["status"] not in ("completed", "rejected"):
        time.sleep(0.2)
    if body["status"] != "completed":
        raise SystemExit(f"a fill upload was rejected: {body}")
    print(
        f"{'':>14}fill upload {done} of {of} completed ({body['code_count']:,} codes), "
        f"{time.perf_counter() - started:.0f} s into the fill",
        flush=True,
    )


def fill_requests(server: Server, publisher: str, target: int) -> dict[str, Any]:
    """Copy the publisher's decided requests that stored no codes until it has
    `target` requests listed; the copies of a rejected request get its problems."""
    started = time.perf_counter()
    with _connection(server.database_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM publishers WHERE name = %s", (publisher,))
        publisher_id = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), max(id) FROM upload_requests WHERE publisher_id = %s AND status <> 'deleted'",
            (publisher_id,),
        )
        listed, last_id = cursor.fetchone()
        # One request of each file: the copies of a rejected request find
        # their template's problems by the file's SHA-256.
        cursor.execute(
            "SELECT array_agg(id) FROM (SELECT DISTINCT ON (sha256) id FROM upload_requests"
            " WHERE publisher_id = %s AND (status = 'rejected' OR (status = 'completed' AND dry_run))"
            " ORDER BY sha256, id) AS one_a_file",
            (publisher_id,),
        )
        templates = cursor.fetchone()[0]
        copies = max(0, target - listed)
        if copies:
            _copy_requests(cursor, templates, copies)
            _copy_problems(cursor, templates, last_id)
        connection.commit()
        # What autovacuum would have done in the hours the real path takes.
        connection.autocommit = True
        cursor.execute("ANALYZE upload_requests")
        cursor.execute("ANALYZE upload_problems")
    return {
        "requests": listed + copies,
        "copied": copies,
        "templates": len(templates),
        "seconds": time.perf_counter() - started,
    }


def _copy_requests(cursor: Any, templates: list[int], copies: int) -> None:
    """Each copy takes every column of its template but the id, the keys
    that must stay unique and the times, which move back from the template's
    by SECONDS_BETWEEN_COPIES a copy, the latest copy last."""
    cursor.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'upload_requests' AND table_schema = current_schema() ORDER BY ordinal_position"
    )
    columns = [(name, kind) for name, kind in cursor.fetchall() if name not in NOT_COPIED]
    values = [f"t.{name} - copy.shift" if kind.startswith("timestamp") else f"t.{name}" for name, kind in columns]
    cursor.execute(
        f"INSERT INTO upload_requests ({', '.join(name for name, _ in columns)})"
        f" SELECT {', '.join(values)}"
        " FROM (SELECT number, number %% %(templates)s AS pick,"
        "       make_interval(secs => (%(copies)s - number) * %(spacing)s) AS shift"
        "       FROM generate_series(1, %(copies)s) AS number) AS copy"
        " JOIN (SELECT *, row_number() OVER (ORDER BY id) - 1 AS pick FROM upload_requests"
        "       WHERE id = ANY(%(ids)s)) AS t USING (pick)"
        " ORDER BY copy.number",
        {"templates": len(templates), "copies": copies, "spacing": SECONDS_BETWEEN_COPIES, "ids": templates},
    )


def _copy_problems(cursor: Any, templates: list[int], last_id: int) -> None:
    cursor.execute(
        "INSERT INTO upload_problems (request_id, line, reason_code, message)"
        " SELECT copy.id, problem.line, problem.reason_code, problem.message"
        " FROM upload_requests AS copy"
        " JOIN upload_requests AS t ON t.id = ANY(%s) AND t.sha256 = copy.sha256"
        " JOIN upload_problems AS problem ON problem.request_id = t.id"
        " WHERE copy.id > %s AND copy.status = 'rejected'",
        (templates, last_id),
    )


def _connection(database_url: str) -> Any:
    """A connection closed on leaving the `with` (psycopg2's own only ends the transaction)."""
    return closing(psycopg2.connect(database_url))
