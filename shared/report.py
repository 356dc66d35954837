"""The error report of a rejected request: its problems in line order, as
CSV (line, reason_code, message), streamed. At most MAX_REPORTED_PROBLEMS
(shared.models) are stored, the lowest lines; when a file had more, a last row says how
many more there were (the request's `error_count` is exact)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.models import MAX_REPORTED_PROBLEMS, UploadRequest

BATCH_ROWS = 5000
HEADER = ("line", "reason_code", "message")


def filename(request_id: int) -> str:
    return f"errors-{request_id}.csv"


def report_file(connection: Connection, request: UploadRequest) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark, so that spreadsheets read it right."""
    yield "\ufeff".encode() + _csv([HEADER])
    rows = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
        text("SELECT line, reason_code, message FROM upload_problems WHERE request_id = :id ORDER BY line, id"),
        {"id": request.id},
    )
    stored = 0
    for batch in rows.partitions(BATCH_ROWS):
        stored += len(batch)
        yield _csv(tuple(row) for row in batch)
    if not stored:  # a rejection with no line to blame (processing_failed)
        yield _csv([("", request.reason_code or "", request.reason or "")])
    elif request.error_count > stored >= MAX_REPORTED_PROBLEMS:
        # Below the cap, the rows not stored are another publisher's codes,
        # which the report's own line-0 row already counts (shared.loading.foreign).
        yield _csv([("", "", not_listed(request.error_count - stored, stored))])


def not_listed(more: int, kept: int) -> str:
    """The report's last row when some problems were counted but not kept."""
    return f"… and {more:,} more problems not listed: only the first {kept:,} by line are kept"


def _csv(rows: object) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # type: ignore[arg-type]
    return buffer.getvalue().encode()
