"""The download of a TXT request, prepared while its upload is read.

A download (shared.download) is the request's codes in file order. Asked of
the codes table, which keeps them in code order, it waits for a sort by line
of every code: most of a second a million, before the first byte. But a TXT
file's good lines reach the Code Generator in file order, so it writes them
down as the download has them, and stores the result in the transaction
that stores the codes:

- a file whose every line has all five fields, written as the download
  writes numbers, is its own download: the upload's blob serves as it is,
  and nothing is stored twice. Only when the bytes written down hash to
  the upload's own SHA-256, though: a file could pass every line yet differ
  from its download somewhere the reader leaves out (its last line's end,
  say), and then its rendering is stored as for any other file;
- any other file's lines are rendered (the product's default expiry filled
  in, empty trailing fields left out), spooled, and stored as a blob of
  their own.

The download's SHA-256 is taken from the bytes as they are written down,
and stored with the request (codes_sha256): a download's header carries
it, and a header must be known before the first byte of a streamed body.

Lines come as the reader passed them: in runs (CleanLines, ASCII, numbers
without leading zeros) or one by one (CodeRecord). A run is rendered by
bytes operations when its lines all have five fields or all have two, and
line by line otherwise. The rendering is shared.download's line format
written in Python; a test holds the two to the same bytes.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar, cast

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.formats import CleanLines, CodeRecord
from shared.storage import CHUNK_BYTES, BlobWriter, StoredFile

Item = TypeVar("Item")
# The download is spooled in memory up to this size, then in a temporary file.
SPOOL_IN_MEMORY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredDownload:
    blob_id: int
    sha256: str  # hex, of the download's bytes


class PreparedDownload:
    def __init__(self, product_id: int, default_expiry: int) -> None:
        self._product_id = product_id
        self._default_expiry = b"%d" % default_expiry
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)
        self._sha256 = hashlib.sha256()
        self.as_uploaded = True  # so far, the download is the upload's own bytes

    def watch(self, items: Iterator[Item]) -> Iterator[Item]:
        """Pass the reader's items on, writing down the good lines."""
        for item in items:
            kind = type(item)
            if kind is CleanLines:
                self._write(self._block(cast(CleanLines, item)))
            elif kind is CodeRecord:
                self.as_uploaded = False
                self._write(self._record(cast(CodeRecord, item)))
            yield item

    def store(self, connection: Connection, upload_blob_id: int, upload_sha256: str) -> StoredDownload:
        """The blob of the download, in the connection's transaction, and its
        SHA-256. The upload's own blob when its bytes are the download's: the
        same SHA-256 says so."""
        sha256 = self._sha256.hexdigest()
        if self.as_uploaded and sha256 == upload_sha256:
            return StoredDownload(upload_blob_id, sha256)
        writer = BlobWriter(Session(bind=connection))
        self._spool.seek(0)
        while data := self._spool.read(CHUNK_BYTES):
            writer.write(data)
        stored: StoredFile = writer.finish()
        return StoredDownload(stored.blob_id, sha256)

    def _write(self, data: bytes) -> None:
        self._spool.write(data)
        self._sha256.update(data)

    def close(self) -> None:
        self._spool.close()

    def _block(self, block: CleanLines) -> bytes:
        data, lines = block.data, block.line_count
        tabs = data.count(b"\t")
        # A line of a run has one to four TABs: 4 a line means four on every line.
        if tabs == 4 * lines and b"\t\t" not in data and b"\t\r" not in data:
            return data
        self.as_uploaded = False
        if tabs == lines:  # ProductID and code on every line
            return data.replace(b"\r\n", b"\t" + self._default_expiry + b"\r\n")
        rendered = [self._clean_line(line) for line in data.split(b"\r\n")[:-1]]
        return b"".join(rendered)

    def _clean_line(self, line: bytes) -> bytes:
        product_id, code, expiry, build, seats = (line.split(b"\t") + [b""] * 3)[:5]
        return _line(product_id, code, expiry or self._default_expiry, build, seats)

    def _record(self, record: CodeRecord) -> bytes:
        """A good line the rule book took alone, from its parsed values."""
        _, code, expiry, build, seats = record
        return _line(
            b"%d" % self._product_id,
            code.encode("cp1252"),
            self._default_expiry if expiry is None else b"%d" % expiry,
            b"" if build is None else b"%d" % build,
            b"" if seats is None else b"%d" % seats,
        )


def _line(product_id: bytes, code: bytes, expiry: bytes, build: bytes, seats: bytes) -> bytes:
    """As shared.download's _LINE: empty trailing fields are left out; an
    empty build number before a seats value keeps its TAB."""
    fields = [product_id, code, expiry]
    if build or seats:
        fields.append(build)
    if seats:
        fields.append(seats)
    return b"\t".join(fields) + b"\r\n"
