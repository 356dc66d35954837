"""The download of a completed request (PRODUCT.md §5): its codes as
stored, in file order, in the TXT format of §3 with the expiry filled in,
CR LF, Windows-1252, named codes-<id>.txt.

PostgreSQL writes the lines itself (COPY … TO STDOUT, converting to
Windows-1252): Python formatting a million lines ran at 22 MB/s, COPY at
several times that. psycopg2's COPY pushes into a file object, so it runs on
a thread feeding a small queue that the response pulls from: memory stays
bounded by the queue, and a client that goes away stops the COPY.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from sqlalchemy import Engine

BLOCK_BYTES = 64 * 1024
QUEUED_BLOCKS = 8

# Trailing optional fields are left out; a middle one keeps its TAB
# (concat_ws skips NULLs).
_LINE = """concat_ws(E'\\t', product_id, code, expiry_days,
    CASE WHEN seats IS NOT NULL THEN coalesce(build_no::text, '') WHEN build_no IS NOT NULL THEN build_no::text END,
    seats)"""
# CSV mode with a delimiter and quote that no code can hold prints each line
# as it is; only LF needs widening to CR LF. (A thousand lines to a row, by
# string_agg, was measured slower: 1.06 s against 0.63 s a million.)
_COPY = (
    f"COPY (SELECT {_LINE} FROM license_codes WHERE request_id = %s ORDER BY line_no) "
    "TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')"
)


def filename(request_id: int) -> str:
    return f"codes-{request_id}.txt"


class _Stopped(Exception):
    """The reader went away: abandon the COPY."""


class _QueueWriter:
    """The file object COPY writes to, one row at a time."""

    def __init__(self, blocks: queue.Queue[bytes | BaseException | None], stop: threading.Event) -> None:
        self._blocks, self._stop = blocks, stop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._size += len(data)
        if self._size >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.put(b"".join(self._pending).replace(b"\n", b"\r\n"))
            self._pending, self._size = [], 0

    def put(self, item: bytes | BaseException | None) -> None:
        while True:
            try:
                self._blocks.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():
                    raise _Stopped() from None


def codes_file(engine: Engine, request_id: int) -> Iterator[bytes]:
    """The file in blocks of about BLOCK_BYTES."""
    blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUED_BLOCKS)
    stop = threading.Event()
    writer = _QueueWriter(blocks, stop)
    thread = threading.Thread(target=_copy_out, args=(engine, request_id, writer), name=f"download-{request_id}")
    thread.start()
    try:
        while (block := blocks.get()) is not None:
            if isinstance(block, BaseException):
                raise block
            yield block
    finally:
        stop.set()
        while thread.is_alive():  # let a writer blocked on a full queue see the stop
            try:
                blocks.get(timeout=0.1)
            except queue.Empty:
                pass
        thread.join()


def _copy_out(engine: Engine, request_id: int, writer: _QueueWriter) -> None:
    try:
        with engine.connect() as connection:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            # Both last until the transaction ends, when the connection goes back to the pool.
            cursor.execute("SET LOCAL client_encoding TO 'WIN1252'; SET LOCAL work_mem TO '64MB'")
            cursor.copy_expert(cursor.mogrify(_COPY, (request_id,)).decode(), writer)
        writer.flush()
        writer.put(None)
    except _Stopped:
        return
    except BaseException as error:  # handed to the reader, who raises it
        try:
            writer.put(error)
        except _Stopped:
            return
