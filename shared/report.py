"""The error report of a rejected request: every problem, in line order,
as CSV (line, reason_code, message), streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.models import UploadRequest

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
    stored = False
    for batch in rows.partitions(BATCH_ROWS):
        stored = True
        yield _csv(tuple(row) for row in batch)
    if not stored:  # a rejection with no line to blame (processing_failed)
        yield _csv([("", request.reason_code or "", request.reason or "")])


def _csv(rows: object) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)  # type: ignore[arg-type]
    return buffer.getvalue().encode()
