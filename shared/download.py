"""The download of a completed request (PRODUCT.md §5): its codes as
stored, in file order, in the TXT format of §3 with the expiry filled in,
CR LF, Windows-1252. Streamed from a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

BATCH_ROWS = 5000


def filename(request_id: int) -> str:
    return f"codes-{request_id}.txt"


def codes_file(connection: Connection, request_id: int) -> Iterator[bytes]:
    """The file in pieces of BATCH_ROWS lines. Each line names its code's
    product: a CSV import may span several."""
    rows = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
        text(
            "SELECT product_id, code, expiry_days, build_no, seats FROM license_codes "
            "WHERE request_id = :request_id ORDER BY line_no"
        ),
        {"request_id": request_id},
    )
    for batch in rows.partitions(BATCH_ROWS):
        yield "".join(_fields(row) for row in batch).encode("cp1252")


def _fields(row: Any) -> str:
    # Trailing optional fields are left out; a middle one keeps its TAB.
    product_id, code, expiry, build, seats = row
    if seats is not None:
        return f"{product_id}\t{code}\t{expiry}\t{'' if build is None else build}\t{seats}\r\n"
    if build is not None:
        return f"{product_id}\t{code}\t{expiry}\t{build}\r\n"
    return f"{product_id}\t{code}\t{expiry}\r\n"
