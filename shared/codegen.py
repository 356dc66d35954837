"""The Code Generator: decides one claimed upload request.

    stored bytes ─▶ reader (txt) ─▶ COPY into a temporary staging table
                                     │   problems in the file? reject
                                     ▼
                 INSERT INTO license_codes SELECT … FROM staging ORDER BY code
                                     │   unique violation? find the duplicates
                                     ▼   (in the file first, then on the server)
                 complete (fenced by the claim token), one transaction

The happy path runs two set-based statements, whatever the number of codes;
the queries that name duplicate lines run only when the unique index said
there is one. The unique index is the last word when two batches race, and
the fixed insert order (by code) keeps overlapping batches from deadlocking.
A dry run does everything, then rolls the insert back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
from sqlalchemy import Engine, select

from shared import states
from shared.copyfeed import CopyFeed, ProblemLog
from shared.formats import CodeRecord, Problem
from shared.formats.txt import TxtRules, read_txt
from shared.lease import ClaimLost, LeaseKeeper
from shared.models import Product, UploadRequest
from shared.storage import read_chunks

MAX_CODES_PER_REQUEST = 2_000_000

_STAGING = """
CREATE TEMPORARY TABLE staging (
    line integer NOT NULL,
    code text COLLATE "C" NOT NULL,
    expiry integer,
    build integer,
    seats integer
) ON COMMIT DROP
"""
_INSERT = """
INSERT INTO license_codes (code, product_id, request_id, line_no, code_type, expiry_days, build_no, seats)
SELECT s.code, p.product_id, %(request_id)s, s.line, %(code_type)s,
       COALESCE(s.expiry, CASE WHEN %(code_type)s = 'evaluation'
                               THEN p.evaluation_expiry_days ELSE p.activation_expiry_days END),
       s.build, s.seats
FROM staging s CROSS JOIN products p
WHERE p.product_id = %(product_id)s
ORDER BY s.code
"""
_DUPLICATES_IN_FILE = """
SELECT line, code, first_line FROM (
    SELECT line, code, min(line) OVER (PARTITION BY code) AS first_line FROM staging
) numbered
WHERE line > first_line ORDER BY line
"""
_DUPLICATES_ON_SERVER = """
SELECT s.line, s.code FROM staging s JOIN license_codes c ON c.code = s.code AND c.request_id <> %(request_id)s
ORDER BY s.line
"""


@dataclass(frozen=True)
class Job:
    request_id: int
    dry_run: bool
    code_type: str
    blob_id: int
    product: Product


def decide(engine: Engine, held: states.Claim, lease_seconds: int) -> str:
    """Validate and store (or reject) the claimed request; answer its final
    status. Raises ClaimLost when the claim was taken away meanwhile."""
    job = _load_job(engine, held.request_id)
    with LeaseKeeper(engine, held, lease_seconds) as lease, engine.connect() as reader:
        chunks = read_chunks(reader.execution_options(isolation_level="AUTOCOMMIT"), job.blob_id)
        items = read_txt(chunks, TxtRules(job.product.product_id, job.product.prefix, job.code_type))
        return _load(engine, job, held, _bounded(items), lease.check)


def _load_job(engine: Engine, request_id: int) -> Job:
    with engine.connect() as connection:
        request = connection.execute(select(UploadRequest).where(UploadRequest.id == request_id)).one()
        product = connection.execute(select(Product).where(Product.product_id == request.product_id)).one()
    assert request.blob_id is not None, f"upload {request_id} has no stored bytes"
    return Job(request.id, request.dry_run, request.code_type, request.blob_id, Product(**product._asdict()))


def _bounded(items: Iterable[CodeRecord | Problem]) -> Iterator[CodeRecord | Problem]:
    """Stop at the first code over the per-request maximum."""
    count = 0
    for item in items:
        if isinstance(item, CodeRecord):
            count += 1
            if count > MAX_CODES_PER_REQUEST:
                yield Problem(
                    item.line,
                    "too_many_codes",
                    f"line {item.line}: the file holds more than {MAX_CODES_PER_REQUEST:,} codes, "
                    "the most one upload may hold; split it into several files",
                )
                return
        yield item


def _load(
    engine: Engine, job: Job, held: states.Claim, items: Iterator[CodeRecord | Problem], check: Callable[[], None]
) -> str:
    problems = ProblemLog()
    with engine.connect() as connection:
        transaction = connection.begin()
        # The psycopg2 cursor of this same connection: COPY and the ORM-level
        # moves of shared.states share one transaction.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(_STAGING)
        cursor.copy_expert(
            "COPY staging (line, code, expiry, build, seats) FROM STDIN", CopyFeed(items, problems, on_progress=check)
        )
        if problems.count:
            _find_duplicates_in_file(cursor, problems)  # every problem of the file, in one report
        else:
            _insert_codes(connection, cursor, job, problems)
        if problems.count:
            transaction.rollback()
            with connection.begin():
                _fenced(states.reject(connection, held, problems.listed(), problems.count), held)
            return "rejected"
        summary = _summary(cursor, job) if job.dry_run else None
        _fenced(states.complete(connection, held, _staged_count(cursor), summary), held)
        transaction.commit()
        return "completed"


def _insert_codes(connection: Any, cursor: Any, job: Job, problems: ProblemLog) -> None:
    """Insert every staged code (a dry run rolls the insert back at once)."""
    parameters = {"request_id": job.request_id, "code_type": job.code_type, "product_id": job.product.product_id}
    for _attempt in (1, 2):
        savepoint = connection.begin_nested()
        try:
            cursor.execute(_INSERT, parameters)
        except psycopg2.errors.UniqueViolation:
            savepoint.rollback()
            _find_duplicates_in_file(cursor, problems)
            if not problems.count:
                _find_duplicates_on_server(cursor, job, problems)
            if problems.count:
                return
            continue  # the batch we collided with rolled back meanwhile: once more
        if job.dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        return
    raise RuntimeError(f"upload {job.request_id}: the insert kept colliding with no duplicate to name")


def _find_duplicates_in_file(cursor: Any, problems: ProblemLog) -> None:
    cursor.execute(_DUPLICATES_IN_FILE)
    for line, code, first_line in cursor:
        message = f"line {line}: the code {_quoted(code)} already appears on line {first_line}"
        problems.add(Problem(line, "duplicate_in_file", message))


def _find_duplicates_on_server(cursor: Any, job: Job, problems: ProblemLog) -> None:
    """Only once the file itself is clean (PRODUCT.md §3)."""
    cursor.execute(_DUPLICATES_ON_SERVER, {"request_id": job.request_id})
    for line, code in cursor:
        # Never say whose: global uniqueness must not reveal another publisher's codes.
        message = f"line {line}: the code {_quoted(code)} already exists on the server"
        problems.add(Problem(line, "duplicate_existing", message))


def _fenced(moved: bool, held: states.Claim) -> None:
    if not moved:
        raise ClaimLost(f"upload {held.request_id}: the claim was lost before the decision was written")


def _staged_count(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM staging")
    return int(cursor.fetchone()[0])


def _summary(cursor: Any, job: Job) -> dict[str, Any]:
    """What a dry run reports (PRODUCT.md §6)."""
    cursor.execute("SELECT count(*), min(expiry), max(expiry), count(expiry), count(build), count(seats) FROM staging")
    total, low, high, with_expiry, with_build, with_seats = cursor.fetchone()
    product = job.product
    default = product.evaluation_expiry_days if job.code_type == "evaluation" else product.activation_expiry_days
    expiries = [value for value in (low, high) if value is not None] + ([default] if with_expiry < total else [])
    return {
        "codes": total,
        "by_code_type": {job.code_type: total},
        "by_product": {str(product.product_id): total},
        "expiry_days": {"min": min(expiries), "max": max(expiries)} if total else None,
        "with_build_no": with_build,
        "with_seats": with_seats,
    }


def _quoted(code: str) -> str:
    return repr(code if len(code) <= 40 else code[:40] + "…")
