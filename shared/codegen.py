"""The Code Generator: decides one claimed upload request.

    stored bytes ─▶ reader (txt or csv) ─▶ COPY into a temporary staging table
                                            │   problems in the file? reject
                                            ▼
                 INSERT INTO license_codes SELECT … FROM staging ORDER BY code
                                            │   unique violation? name the duplicates
                                            ▼   (in the file first, then on the server)
                 complete (fenced by the claim token): one transaction

The reader runs in this process while PostgreSQL takes the COPY in its own,
so the two cores share the first stage; runs of good TXT lines reach the
COPY as the bytes they came in. The happy path runs two set-based
statements whatever the number of codes; the queries that name duplicate
lines run only when the unique index said there is one. The unique index
has the last word when two batches race. A dry run stops before the insert
and asks the duplicate queries what the insert would have found. The SQL
lives in shared.staging.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2.errors
from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from shared import download, staging, states
from shared.copyfeed import READ_BYTES, CopyFeed, ProblemLog
from shared.formats import CleanLines, CodeRecord, CsvRecord, Problem
from shared.formats.csv import CsvProduct, CsvRules, read_csv
from shared.formats.txt import TxtRules, read_txt_blocks
from shared.lease import ClaimLost, LeaseKeeper
from shared.models import Product, UploadRequest
from shared.prepared_download import PreparedDownload
from shared.progress import Progress
from shared.storage import read_chunks

log = logging.getLogger(__name__)

MAX_CODES_PER_REQUEST = 2_000_000

Item = CleanLines | CodeRecord | CsvRecord | Problem


@dataclass(frozen=True)
class Job:
    request_id: int
    format: str
    dry_run: bool
    code_type: str
    blob_id: int
    sha256: str  # of the uploaded bytes
    product: Product | None  # None: a CSV file for several of the publisher's products
    products: dict[str, CsvProduct]  # the publisher's, by short code (CSV)

    @property
    def default_expiry(self) -> int:
        assert self.product is not None
        if self.code_type == "evaluation":
            return self.product.evaluation_expiry_days
        return self.product.activation_expiry_days

    @property
    def parameters(self) -> dict[str, Any]:
        product_id = self.product.product_id if self.product else None
        return {"request_id": self.request_id, "code_type": self.code_type, "product_id": product_id}

    def read(self, chunks: Iterable[bytes]) -> Iterator[Item]:
        if self.format == "txt":
            assert self.product is not None
            return read_txt_blocks(chunks, TxtRules(self.product.product_id, self.product.prefix, self.code_type))
        only = self.product.short_code if self.product else None
        return read_csv(chunks, CsvRules(self.products, only_short_code=only))


def decide(engine: Engine, held: states.Claim, lease_seconds: int) -> str:
    """Validate and store (or reject) the claimed request; answer its final
    status. Raises ClaimLost when the claim was taken away meanwhile."""
    job = _load_job(engine, held.request_id)
    progress = Progress()
    with LeaseKeeper(engine, held, lease_seconds, progress) as lease, engine.connect() as reader:
        chunks = read_chunks(reader.execution_options(isolation_level="AUTOCOMMIT"), job.blob_id)
        items = _bounded(job.read(progress.counting(chunks)))
        return _load(engine, job, held, items, lease.check, progress)


def _load_job(engine: Engine, request_id: int) -> Job:
    with engine.connect() as connection:
        request = connection.execute(select(UploadRequest).where(UploadRequest.id == request_id)).one()
        products = [
            Product(**row._asdict())
            for row in connection.execute(select(Product).where(Product.publisher_id == request.publisher_id))
        ]
    assert request.blob_id is not None, f"upload {request_id} has no stored bytes"
    product = next((p for p in products if p.product_id == request.product_id), None)
    by_short_code = {p.short_code: CsvProduct(p.product_id, p.prefix) for p in products}
    return Job(
        request.id,
        request.format,
        request.dry_run,
        request.code_type,
        request.blob_id,
        request.sha256,
        product,
        by_short_code,
    )


def _bounded(items: Iterable[Item]) -> Iterator[Item]:
    """Stop at the first code over the per-request maximum."""
    count = 0
    for item in items:
        kind = type(item)
        if kind is not Problem:
            added = item.line_count if kind is CleanLines else 1  # type: ignore[union-attr]
            if count + added > MAX_CODES_PER_REQUEST:
                line = item.first_line + MAX_CODES_PER_REQUEST - count if kind is CleanLines else item.line  # type: ignore[union-attr]
                yield Problem(
                    line,
                    "too_many_codes",
                    f"line {line}: the file holds more than {MAX_CODES_PER_REQUEST:,} codes, "
                    "the most one upload may hold; split it into several files",
                )
                return
            count += added
        yield item


def _load(
    engine: Engine, job: Job, held: states.Claim, items: Iterator[Item], check: Callable[[], None], progress: Progress
) -> str:
    problems = ProblemLog(job.request_id)
    prepared = _prepared_download(job)
    if prepared is not None:
        items = prepared.watch(items)
    with engine.connect() as connection, contextlib.closing(problems), _closing(prepared):
        transaction = connection.begin()
        # The psycopg2 cursor of this same connection: the COPY and the moves
        # of shared.states share one transaction.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        _record_backend(engine, cursor, held)
        cursor.execute(staging.SETTINGS)
        for statement in staging.CREATE[job.format]:
            cursor.execute(statement)
        feed = CopyFeed(items, problems, on_progress=check)
        progress.lines_from(lambda: feed.rows + problems.count)  # a bad row yields one problem and no record
        started = time.perf_counter()
        cursor.copy_expert(staging.COPY[job.format], feed, size=READ_BYTES)
        rows = feed.rows + problems.count
        progress.read_through(rows)  # duplicates found next are not more lines
        read = time.perf_counter()
        if problems.count:
            _find_duplicates_in_file(cursor, problems)  # every problem of the file, in one report
        elif job.dry_run:
            _find_duplicates(cursor, job, problems)  # what the insert would find, without inserting
        else:
            _insert_codes(connection, cursor, job, problems)
        log.info(
            "upload %s: %s rows read and staged in %.2f s, checked and stored in %.2f s",
            job.request_id, rows, read - started, time.perf_counter() - read,
        )  # fmt: skip
        if problems.count:
            transaction.rollback()
            with connection.begin():
                _fenced(states.reject(connection, held, problems.listed(), problems.count, rows), held)
                cursor.copy_expert(staging.COPY_PROBLEMS, problems.rows())  # the full error report
            return "rejected"
        summary = _summary(cursor, job) if job.dry_run else None
        codes_blob_id, codes_sha256 = _download(connection, cursor, job, prepared)
        _fenced(states.complete(connection, held, feed.rows, summary, codes_blob_id, codes_sha256), held)
        transaction.commit()
        return "completed"


def _record_backend(engine: Engine, cursor: Any, held: states.Claim) -> None:
    """Name this transaction's session on the request, in a transaction of
    its own (the sweep must see it while this one runs)."""
    cursor.execute("SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    pid, started = cursor.fetchone()
    with engine.begin() as connection:
        _fenced(states.record_backend(connection, held, pid, started), held)


def _prepared_download(job: Job) -> PreparedDownload | None:
    """TXT files only: their lines come in file order, as the download has
    them; a CSV request's download is sorted by the database."""
    if job.format != "txt" or job.dry_run:
        return None
    assert job.product is not None
    return PreparedDownload(job.product.product_id, job.default_expiry)


def _download(
    connection: Connection, cursor: Any, job: Job, prepared: PreparedDownload | None
) -> tuple[int | None, str | None]:
    """The prepared download's blob, if any, and the download's SHA-256: a
    dry run has no download; a CSV request's is hashed as the database
    would send it, in this transaction (shared.download)."""
    if prepared is not None:
        stored = prepared.store(connection, job.blob_id, job.sha256)
        return stored.blob_id, stored.sha256
    if job.dry_run:
        return None, None
    return None, download.codes_sha256_by_database(cursor, job.request_id)


def _closing(prepared: PreparedDownload | None) -> contextlib.AbstractContextManager[object]:
    return contextlib.closing(prepared) if prepared is not None else contextlib.nullcontext()


def _insert_codes(connection: Connection, cursor: Any, job: Job, problems: ProblemLog) -> None:
    """Insert every staged code; name the duplicates if the unique index refuses."""
    for _attempt in (1, 2):
        savepoint = connection.begin_nested()
        try:
            cursor.execute(staging.INSERT, job.parameters)
        except psycopg2.errors.UniqueViolation:
            savepoint.rollback()
            _find_duplicates(cursor, job, problems)
            if problems.count:
                return
            continue  # the batch we collided with rolled back meanwhile: once more
        savepoint.commit()
        return
    raise RuntimeError(f"upload {job.request_id}: the insert kept colliding with no duplicate to name")


def _find_duplicates(cursor: Any, job: Job, problems: ProblemLog) -> None:
    """In the file first; against the server only once the file itself is
    clean (PRODUCT.md §3)."""
    _find_duplicates_in_file(cursor, problems)
    if not problems.count:
        _find_duplicates_on_server(cursor, job, problems)


def _find_duplicates_in_file(cursor: Any, problems: ProblemLog) -> None:
    cursor.execute(staging.DUPLICATES_IN_FILE)
    for line, code, first_line in cursor:
        message = f"line {line}: the code {_quoted(code)} already appears on line {first_line}"
        problems.add(Problem(line, "duplicate_in_file", message))


def _find_duplicates_on_server(cursor: Any, job: Job, problems: ProblemLog) -> None:
    cursor.execute(staging.DUPLICATES_ON_SERVER, job.parameters)
    for line, code in cursor:
        # Never say whose: global uniqueness must not reveal another publisher's codes.
        message = f"line {line}: the code {_quoted(code)} already exists on the server"
        problems.add(Problem(line, "duplicate_existing", message))


def _summary(cursor: Any, job: Job) -> dict[str, Any]:
    cursor.execute(staging.SUMMARY, job.parameters)
    return staging.summarize(cursor.fetchall())


def _fenced(moved: bool, held: states.Claim) -> None:
    if not moved:
        raise ClaimLost(f"upload {held.request_id}: the claim was lost before the decision was written")


def _quoted(code: str) -> str:
    return repr(code if len(code) <= 40 else code[:40] + "…")
