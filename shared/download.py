"""The download of a completed request (docs/product.md#the-download): its
codes as stored, in file order, in the TXT format with the expiry filled in,
CR LF, Windows-1252, named codes-<id>.txt.

A TXT request has its download prepared by the Code Generator
(shared.loading.prepared_download): its stored chunks stream as they are. For the
others, PostgreSQL writes the lines itself (COPY … TO STDOUT): Python formatting a
million lines ran at 22 MB/s, COPY at several times that. psycopg2's COPY
pushes into a file object, one row per call, so it runs on a thread writing
into a pipe through a buffered writer (C code all the way), and the
response reads the other end in blocks: memory stays bounded by the
buffers, and a client that goes away closes the pipe, which stops the COPY.

Every download's SHA-256 is known before its first byte (codes_sha256, sent
in a header): the Code Generator takes it as it completes the request, from
the prepared download or, for the others, by running this module's COPY
into a hash in its own transaction (codes_sha256_by_database). A request
completed before that was kept gets it from its first download
(codes_sha256_of), which reads the file twice that once.

The COPY speaks the database's UTF-8; the blocks become Windows-1252 here,
and only those that hold anything but ASCII need converting, which codes
almost never do (PostgreSQL's own conversion cost 0.3 s a million).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import threading
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select

from shared.models import UploadRequest
from shared.storage import read_chunks

BLOCK_BYTES = 256 * 1024

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
# The sort by line is most of the time before the first byte: in memory
# (some 80 MB a million codes; temporary files doubled its time), and shared
# with parallel workers, which the planner's default costs, made for small
# results, would not start. All last until the transaction ends.
_SORT_SETTINGS = "SET LOCAL work_mem TO '256MB'; SET LOCAL parallel_setup_cost TO 0; SET LOCAL parallel_tuple_cost TO 0"


def filename(request_id: int) -> str:
    return f"codes-{request_id}.txt"


def codes_file(engine: Engine, request_id: int) -> Iterator[bytes]:
    """The file in blocks of at most a chunk (shared.storage.CHUNK_BYTES)."""
    with engine.connect() as connection:
        prepared = connection.scalar(select(UploadRequest.codes_blob_id).where(UploadRequest.id == request_id))
        if prepared is not None:
            yield from read_chunks(connection, prepared)
            return
    yield from sorted_by_database(engine, request_id)


def sorted_by_database(engine: Engine, request_id: int) -> Iterator[bytes]:
    """The file from the codes table, in blocks of BLOCK_BYTES."""
    read_end, write_end = os.pipe()
    failures: list[BaseException] = []
    thread = threading.Thread(
        target=_copy_out, args=(engine, request_id, write_end, failures), name=f"download-{request_id}"
    )
    thread.start()
    try:
        with open(read_end, "rb", buffering=BLOCK_BYTES) as pipe:
            yield from _windows_1252(iter(lambda: pipe.read(BLOCK_BYTES), b""))
    finally:
        thread.join()  # the pipe is closed: a COPY still writing stops
    if failures:
        raise failures[0]


def codes_sha256_of(engine: Engine, request_id: int) -> str:
    """The SHA-256 (hex) of the download, by reading it through."""
    sha256 = hashlib.sha256()
    for block in codes_file(engine, request_id):
        sha256.update(block)
    return sha256.hexdigest()


def codes_sha256_by_database(cursor: Any, request_id: int) -> str:
    """The SHA-256 (hex) of the file sorted_by_database would send, on a
    psycopg2 cursor: inside the transaction that stores the codes, which no
    other connection sees yet. Its settings last until that transaction ends."""
    sink = _Sha256Sink()
    with io.BufferedWriter(sink, buffer_size=BLOCK_BYTES) as pipe:  # one call a block, not a row
        _copy_sorted(cursor, request_id, pipe)
    return sink.hexdigest()


class _Sha256Sink(io.RawIOBase):
    """Hashes what is written, converted as the download converts it."""

    def __init__(self) -> None:
        super().__init__()
        self._converter = _Windows1252()
        self._sha256 = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sha256.update(self._converter.convert(bytes(data)))
        return len(data)

    def hexdigest(self) -> str:
        self._converter.finish()
        return self._sha256.hexdigest()


def _copy_out(engine: Engine, request_id: int, write_end: int, failures: list[BaseException]) -> None:
    try:
        with open(write_end, "wb", buffering=BLOCK_BYTES) as pipe, engine.connect() as connection:
            _copy_sorted(connection.connection.driver_connection.cursor(), request_id, pipe)  # type: ignore[union-attr]
    except BrokenPipeError:
        return  # the reader went away
    except BaseException as error:  # handed to the reader, who raises it
        failures.append(error)


def _copy_sorted(cursor: Any, request_id: int, sink: Any) -> None:
    """The request's lines, in file order, written to `sink` as the database's UTF-8."""
    cursor.execute(_SORT_SETTINGS)
    cursor.copy_expert(cursor.mogrify(_COPY, (request_id,)).decode(), sink)


class _Windows1252:
    """UTF-8 blocks, split anywhere, as Windows-1252 with CR LF line ends."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def convert(self, block: bytes) -> bytes:
        if not block.isascii():  # a character split between blocks is not ASCII either
            block = self._decoder.decode(block).encode("cp1252")
        return block.replace(b"\n", b"\r\n")

    def finish(self) -> None:
        self._decoder.decode(b"", final=True)


def _windows_1252(blocks: Iterator[bytes]) -> Iterator[bytes]:
    converter = _Windows1252()
    for block in blocks:
        yield converter.convert(block)
    converter.finish()
