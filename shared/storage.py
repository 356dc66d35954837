"""The bytes of uploaded files, kept in PostgreSQL as 1 MiB chunks.

Written as they arrive (hashed on the way, never whole in memory, never on a
local disk) and read back one chunk at a time by the worker, which may run on
another host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.models import UploadBlob, UploadChunk, UploadRequest

CHUNK_BYTES = 1024 * 1024
HEAD_BYTES = 4096  # enough to tell the format of a file


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
        self._session.execute(insert(UploadChunk).values(blob_id=self.blob_id, seq=self._seq, data=chunk))
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
        select(UploadRequest.id).where(UploadRequest.blob_id == blob_id, UploadRequest.status != "deleted").limit(1)
    )
    if still_used is None:
        session.execute(delete(UploadBlob).where(UploadBlob.id == blob_id))
