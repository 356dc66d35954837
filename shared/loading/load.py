"""One run of the loader, in four stages, each a function below:

    stored bytes ─▶ reader (txt or csv) ─▶ stage: COPY into a temporary staging table
                                            │
                                            ▼
                                           check: problems in the file? name the
                                            │     duplicates in it too; a clean dry
                                            │     run asks what the insert would find
                                            ▼
                                           store: INSERT INTO license_codes SELECT …
                                            │     FROM staging ORDER BY code; a unique
                                            │     violation, caught in the database, names
                                            │     the duplicates
                                            ▼
                                           decide: reject (every problem, by line; codes
                                                   of another publisher within the day's
                                                   budget) or complete, fenced by the claim token

The reader runs in this process while PostgreSQL takes the COPY in its own,
so the two cores share the first stage; runs of good TXT lines reach the
COPY as the bytes they came in. The happy path runs two set-based
statements whatever the number of codes; the queries that name duplicate
lines run only when the insert skipped a code. Everything from
the COPY to the decision is one transaction: a request is never
half-stored. docs/architecture.md#the-life-of-an-upload draws the whole way.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from shared import download, states
from shared.config import FOREIGN_DUPLICATES_PER_DAY
from shared.errors import ClaimLost
from shared.loading import staging, store
from shared.loading.feed import READ_BYTES, CopyFeed, ProblemLog
from shared.loading.foreign import ForeignDuplicates, name_within_budget
from shared.loading.generated import GenerationJob, make_and_store
from shared.loading.job import Item, Job, bounded, load_job
from shared.loading.lease import LeaseKeeper
from shared.loading.prepared_download import PreparedDownload
from shared.loading.progress import Progress
from shared.statuses import RequestStatus
from shared.storage import read_chunks

log = logging.getLogger(__name__)


# While a statement runs, PostgreSQL notices that its client has gone only
# when it next reads or writes: a worker killed during the insert would
# leave its session, its locks and a claim that looks alive until the insert
# ends. With this the server looks at the socket every second and ends the
# session (PostgreSQL 14 and newer, on Linux, macOS and the BSDs; where the
# server refuses it, the session goes when the statement ends).
WATCH_THE_CLIENT = """
DO $$
BEGIN
    PERFORM set_config('client_connection_check_interval', '1000', true);
EXCEPTION WHEN undefined_object OR invalid_parameter_value THEN
    NULL;
END $$
"""


@dataclass(frozen=True)
class Staged:
    codes: int  # good lines staged
    rows: int  # every line read, good or not (one problem a bad line)


def decide(
    engine: Engine,
    held: states.Claim,
    lease_seconds: int,
    foreign_duplicates_per_day: int = FOREIGN_DUPLICATES_PER_DAY,
    connection: Connection | None = None,
) -> str:
    """Validate and store (or reject) the claimed request; return its final
    status. Raises ClaimLost when the claim was taken away meanwhile.
    `foreign_duplicates_per_day`: the budget of shared.loading.foreign.
    `connection`: the one whose session made the claim and named itself on
    it (worker.tasks), for the work to run on; None, a connection of the
    engine's is named here and used."""
    job = load_job(engine, held.request_id)
    progress = Progress()
    with LeaseKeeper(engine, held, lease_seconds, progress) as lease, _working(engine, held, connection) as working:
        if isinstance(job, GenerationJob):
            return _generate(working, job, held, lease.check_claim, progress)
        return _load(engine, working, job, held, lease.check_claim, progress, foreign_duplicates_per_day)


def _load(
    engine: Engine,
    working: Connection,
    job: Job,
    held: states.Claim,
    check_claim: Callable[[], None],
    progress: Progress,
    foreign_duplicates_per_day: int,
) -> str:
    """An upload: its stored bytes read, checked and stored or rejected."""
    with engine.connect() as reader:
        chunks = read_chunks(reader.execution_options(isolation_level="AUTOCOMMIT"), job.blob_id)
        items = bounded(job.read(progress.counting(chunks)))
        foreign = ForeignDuplicates(keep=foreign_duplicates_per_day)
        return _run(working, job, held, items, check_claim, progress, foreign)


def _generate(
    connection: Connection,
    job: GenerationJob,
    held: states.Claim,
    check_claim: Callable[[], None],
    progress: Progress,
) -> str:
    """A generation request (shared.loading.generated): its codes made and
    stored, counted, hashed for the download and completed, in one
    transaction; a dry run stores nothing and completes with its report."""
    with connection.begin():
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(WATCH_THE_CLIENT)
        if job.dry_run:
            _fenced(states.complete(connection, held, job.quantity, job.report()), held)
            return RequestStatus.COMPLETED
        started = time.perf_counter()
        stored = make_and_store(cursor, job, check_claim, progress)
        # One product and one code type, like a TXT file's.
        cursor.execute(staging.ADD_COUNTS["txt"], job.parameters | {"stored": stored.count})
        codes_sha256 = stored.codes_sha256 or download.codes_sha256_by_database(cursor, job.request_id)
        seconds = time.perf_counter() - started
        log.info("generation %s: %s codes made and stored in %.2f s", job.request_id, stored.count, seconds)
        _fenced(states.complete(connection, held, stored.count, None, None, codes_sha256), held)
    return RequestStatus.COMPLETED


def _run(
    connection: Connection,
    job: Job,
    held: states.Claim,
    items: Iterator[Item],
    check_claim: Callable[[], None],
    progress: Progress,
    foreign: ForeignDuplicates,
) -> str:
    problems = ProblemLog(job.request_id)
    prepared = _prepared_download(job)
    if prepared is not None:
        items = prepared.watch(items)
    with contextlib.closing(problems), _closing(prepared):
        transaction = connection.begin()
        # The psycopg2 cursor of this same connection: the COPY and the moves
        # of shared.states share one transaction.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(WATCH_THE_CLIENT)
        started = time.perf_counter()
        staged = stage(cursor, job, items, problems, check_claim, progress)
        read = time.perf_counter()
        check(cursor, job, problems, foreign)
        if not problems.count and not foreign.found and not job.dry_run:
            store.insert_codes(cursor, job, problems, foreign)
        log.info(
            "upload %s: %s rows read and staged in %.2f s, checked and stored in %.2f s",
            job.request_id, staged.rows, read - started, time.perf_counter() - read,
        )  # fmt: skip
        if problems.count or foreign.found:
            transaction.rollback()
            return _decide_rejected(connection, cursor, held, problems, foreign, staged)
        outcome = _decide_completed(connection, cursor, job, held, prepared, staged)
        transaction.commit()
        return outcome


def stage(
    cursor: Any,
    job: Job,
    items: Iterator[Item],
    problems: ProblemLog,
    check_claim: Callable[[], None],
    progress: Progress,
) -> Staged:
    """COPY the reader's good lines into the staging table, setting every
    problem aside. `check_claim` raises ClaimLost once this worker no longer
    holds the request, so a lost claim stops the COPY early."""
    cursor.execute(staging.SETTINGS)
    for statement in staging.CREATE[job.format]:
        cursor.execute(statement)
    cursor.execute(staging.REQUEST_PRODUCTS, {"rules": job.rules_json})
    feed = CopyFeed(items, problems, check_claim=check_claim)
    progress.lines_from(lambda: feed.rows + problems.count)  # a bad row yields one problem and no record
    cursor.copy_expert(staging.COPY[job.format], feed, size=READ_BYTES)
    staged = Staged(feed.rows, feed.rows + problems.count)
    progress.read_through(staged.rows)  # duplicates found next are not more lines
    return staged


def check(cursor: Any, job: Job, problems: ProblemLog, foreign: ForeignDuplicates) -> None:
    """A file with problems: name its duplicate codes too, so that one report
    holds every problem. A clean dry run: ask the duplicate queries what the
    insert would have found, without inserting."""
    if problems.count:
        store.find_duplicates_in_file(cursor, problems)
    elif job.dry_run:
        store.find_duplicates(cursor, job, problems, foreign)


def _decide_rejected(
    connection: Connection,
    cursor: Any,
    held: states.Claim,
    problems: ProblemLog,
    foreign: ForeignDuplicates,
    staged: Staged,
) -> str:
    """After the rollback: the rejection and the full error report, in a new
    transaction, which also spends the day's budget of foreign duplicates
    named. `error_count` counts every problem of the file: each withheld
    code too, although the report gives them one row."""
    with connection.begin():
        spent = name_within_budget(connection, held.publisher_id, foreign, problems)
        error_count = problems.count + max(spent.withheld - 1, 0)
        _fenced(states.reject(connection, held, problems.listed(), error_count, staged.rows), held)
        cursor.copy_expert(staging.COPY_PROBLEMS, problems.rows())
    return RequestStatus.REJECTED


def _decide_completed(
    connection: Connection,
    cursor: Any,
    job: Job,
    held: states.Claim,
    prepared: PreparedDownload | None,
    staged: Staged,
) -> str:
    """In the transaction that stored the codes: the summary or the download, and the move."""
    summary = store.summary(cursor, job) if job.dry_run else None
    codes_blob_id, codes_sha256 = _download(connection, cursor, job, prepared)
    if not job.dry_run:
        store.add_counts(cursor, job, staged.codes)
    _fenced(states.complete(connection, held, staged.codes, summary, codes_blob_id, codes_sha256), held)
    return RequestStatus.COMPLETED


@contextlib.contextmanager
def _working(engine: Engine, held: states.Claim, claimed_on: Connection | None) -> Iterator[Connection]:
    """The connection the work runs on, its session named on the request.
    The caller's is handed back without a transaction: one the work left
    open when it raised is rolled back here, before the caller gives the
    request back on another connection, which would otherwise wait for this
    one's locks."""
    if claimed_on is None:
        with engine.connect() as connection:
            with connection.begin():  # its own transaction: the sweep must see it while the work runs
                _fenced(states.record_backend(connection, held), held)
            yield connection
        return
    try:
        yield claimed_on
    finally:
        if claimed_on.in_transaction():
            claimed_on.rollback()


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


def _fenced(moved: bool, held: states.Claim) -> None:
    if not moved:
        raise ClaimLost(f"upload {held.request_id}: the claim was lost before the decision was written")
