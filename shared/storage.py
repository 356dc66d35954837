"""The bytes of uploaded files, kept in PostgreSQL as 1 MiB chunks.

Written as they arrive (hashed on the way, never whole in memory, never on a
local disk) and read back one chunk at a time by the worker, which may run on
another host.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.models import UploadBlob, UploadChunk, UploadRequest
from shared.statuses import RequestStatus

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 4096  # enough to tell the format of a file

# A chunk goes in by COPY in PostgreSQL's binary format: the bytes travel as
# they are, where an INSERT sends them as hex text for the server to decode
# (measured six times slower, 0.70 s against 0.12 s for 35 MB).
_COPY_CHUNK = "COPY upload_chunks (blob_id, seq, data) FROM STDIN WITH (FORMAT binary)"
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, no extension
_BINARY_TRAILER = struct.pack("!h", -1)


@dataclass(frozen=True)
class StoredFile:
    blob_id: int
    size_bytes: int
    sha256: str
    head: bytes


class BlobWriter:
    """Accepts the file in pieces of any size; stores full chunks at once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        blob = UploadBlob()
        session.add(blob)
        session.flush()
        self.blob_id = blob.id
        self._pending = bytearray()
        self._head = bytearray()
        self._hash = hashlib.sha256()
        self._size = 0
        self._seq = 0

    @property
    def size_bytes(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._size += len(data)
        if len(self._head) < HEAD_BYTES:
            self._head += data[: HEAD_BYTES - len(self._head)]
        self._pending += data
        while len(self._pending) >= CHUNK_BYTES:
            self._store(bytes(self._pending[:CHUNK_BYTES]))
            del self._pending[:CHUNK_BYTES]

    def finish(self) -> StoredFile:
        if self._pending:
            self._store(bytes(self._pending))
            self._pending.clear()
        return StoredFile(self.blob_id, self._size, self._hash.hexdigest(), bytes(self._head))

    def _store(self, chunk: bytes) -> None:
        # One row of three fields: blob_id (int8), seq (int4), data (bytea).
        row = struct.pack("!hiqiii", 3, 8, self.blob_id, 4, self._seq, len(chunk))
        cursor = self._session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.copy_expert(_COPY_CHUNK, io.BytesIO(b"".join((_BINARY_HEADER, row, chunk, _BINARY_TRAILER))))
        self._seq += 1


def read_chunks(connection: Connection, blob_id: int) -> Iterator[bytes]:
    """The file's bytes in order, one chunk in memory at a time."""
    seq = 0
    while True:
        chunk = connection.scalar(
            select(UploadChunk.data).where(UploadChunk.blob_id == blob_id, UploadChunk.seq == seq)
        )
        if chunk is None:
            return
        yield bytes(chunk)
        seq += 1


def discard_unshared_blob(session: Session, blob_id: int | None) -> None:
    """Delete a blob's bytes once no live request needs them any more."""
    if blob_id is None:
        return
    still_used = session.scalar(
        select(UploadRequest.id)
        .where(UploadRequest.blob_id == blob_id, UploadRequest.status != RequestStatus.DELETED)
        .limit(1)
    )
    if still_used is None:
        session.execute(delete(UploadBlob).where(UploadBlob.id == blob_id))
