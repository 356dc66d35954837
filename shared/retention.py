"""Uploaded files are kept for UPLOAD_RETENTION_DAYS after their request is
decided, then their bytes are deleted (docs/product.md#how-long-uploaded-files-are-kept):
they are license codes, secrets, and a large upload is tens of megabytes
nobody downloads again. The request, its codes, its error report and its
download stay: the download is written from the codes table when its
prepared copy is gone, the same bytes with the same SHA-256.

A file goes when every request that uses it is decided and was decided
before the cut-off: a dry run's file stays while the request confirmed from
it waits or works. Each batch is one short transaction:

1. the candidates, oldest first, locked with SKIP LOCKED, so that two beats
   never work on one request and nothing waits for them;
2. their files locked FOR UPDATE: a confirmation of a dry run references its
   file (a foreign key), which takes a lock this one conflicts with, so no
   new request can take a file from here on;
3. each file checked again, in a new snapshot, and only then deleted: a
   confirmation that committed since step 1 keeps its file, and one that
   comes after finds it gone (FileGone, 410).
"""

from __future__ import annotations

import dataclasses
import datetime

from sqlalchemy import Engine, text

from shared.statuses import DECIDED, sql_list

BATCH = 20
MAX_BATCHES = 50  # a run's most; the next run goes on

_DECIDED = sql_list(DECIDED)
# A file still needed: another request uses it, and that one is not decided before the cut-off.
_STILL_NEEDED = f"""EXISTS (
    SELECT 1 FROM upload_requests other
    WHERE other.blob_id = r.blob_id
      AND NOT (other.status IN {_DECIDED} AND other.finished_at < :cutoff)
)"""
_CANDIDATES = text(f"""
SELECT r.id FROM upload_requests r
WHERE r.status IN {_DECIDED} AND r.finished_at < :cutoff AND r.blob_id IS NOT NULL
  AND NOT {_STILL_NEEDED}
ORDER BY r.finished_at
LIMIT :batch
FOR UPDATE OF r SKIP LOCKED
""")
_LOCK_FILES = text("""
SELECT b.id FROM upload_blobs b JOIN upload_requests r ON r.blob_id = b.id
WHERE r.id = ANY(:ids) ORDER BY b.id FOR UPDATE OF b
""")
_STILL_FREE = text(f"""
SELECT r.id, r.blob_id, r.codes_blob_id FROM upload_requests r
WHERE r.id = ANY(:ids) AND r.blob_id IS NOT NULL AND NOT {_STILL_NEEDED}
""")
_NOTE = text("UPDATE upload_requests SET file_deleted_at = now() WHERE blob_id = ANY(:blobs)")
_DELETE_CHUNKS = text("DELETE FROM upload_chunks WHERE blob_id = ANY(:blobs)")
# The requests' blob_id and codes_blob_id become NULL by their foreign keys (ON DELETE SET NULL).
_DELETE_FILES = text("DELETE FROM upload_blobs WHERE id = ANY(:blobs)")


@dataclasses.dataclass(frozen=True)
class Forgotten:
    requests: int  # requests whose file was deleted
    files: int  # blobs deleted: uploads' files and their prepared downloads


def forget_old_files(engine: Engine, retention_days: int, batch: int = BATCH) -> Forgotten:
    """Delete the files of requests decided more than `retention_days` ago
    (none when 0), a batch a transaction; give back the space they held."""
    if retention_days == 0:
        return Forgotten(0, 0)
    cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=retention_days)
    requests = files = 0
    for _ in range(MAX_BATCHES):
        with engine.begin() as connection:
            ids: list[int] = list(connection.execute(_CANDIDATES, {"cutoff": cutoff, "batch": batch}).scalars())
            if not ids:
                break
            connection.execute(_LOCK_FILES, {"ids": ids})
            free = connection.execute(_STILL_FREE, {"ids": ids, "cutoff": cutoff}).all()
            uploads = sorted({row.blob_id for row in free})
            blobs = sorted({*uploads, *(row.codes_blob_id for row in free if row.codes_blob_id is not None)})
            if blobs:
                requests += int(connection.execute(_NOTE, {"blobs": uploads}).rowcount)  # type: ignore[attr-defined]
                connection.execute(_DELETE_CHUNKS, {"blobs": blobs})
                files += int(connection.execute(_DELETE_FILES, {"blobs": blobs}).rowcount)  # type: ignore[attr-defined]
    if files:
        # The space goes back to the table at once for new uploads, and its
        # empty end to the operating system (docs/operating.md#uploaded-files-and-their-space).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM upload_chunks"))
    return Forgotten(requests, files)
