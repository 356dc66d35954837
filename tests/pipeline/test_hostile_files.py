"""Files made to cost the service as much as possible per byte
(docs/product.md#what-a-rejected-request-says): a problem on every line.
Every problem is counted; the first 10,000 by line are kept for the error
report, which says where it stops; a file of two million blank lines is
decided in seconds and costs the database kilobytes."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from client.outcome import verdict
from shared.models import MAX_REPORTED_PROBLEMS, UploadProblem
from tests.conftest import Tenant
from tests.pipeline.conftest import WorkerProcesses, txt, upload, wait_decided
from tests.web.test_login import post_login

PRODUCT = 1234
TWO_MILLION = 2_000_000


@pytest.fixture
def acme(make_tenant: Any, workers: WorkerProcesses) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


def database_size(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_database_size(current_database())")))


def stored_problems(sessions: sessionmaker[Session], request_id: int) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).where(UploadProblem.request_id == request_id)) or 0


def report_rows(client: FlaskClient, tenant: Tenant, request_id: int) -> list[list[str]]:
    report = client.get(f"/api/v1/uploads/{request_id}/errors.csv", headers=tenant.auth)
    assert report.status_code == 200
    return list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("filename", "content", "first_line", "reason_code"),
    [
        ("blank.csv", b"license__license_key,product__short_code\n" + b"\n" * TWO_MILLION, 2, "blank_line"),
        ("blank.txt", b"\r\n" * TWO_MILLION, 1, "blank_line"),
    ],
)
def test_two_million_blank_lines_are_counted_in_full_keep_ten_thousand_rows_and_grow_the_database_by_under_10_mb(
    client: FlaskClient,
    acme: Tenant,
    engine: Engine,
    sessions: sessionmaker[Session],
    filename: str,
    content: bytes,
    first_line: int,
    reason_code: str,
) -> None:
    before = database_size(engine)
    started = time.monotonic()
    sent = upload(client, acme, PRODUCT, content, filename=filename, dry_run="true")
    assert sent.status_code == 202, sent.get_json()
    decided = wait_decided(client, acme, sent.get_json()["id"], timeout=120)
    took = time.monotonic() - started
    grown = database_size(engine) - before
    print(f"\n{filename}: {TWO_MILLION:,} blank lines decided in {took:.1f} s; the database grew {grown / 1e6:.2f} MB")

    assert (decided["status"], decided["reason_code"], decided["error_count"]) == ("rejected", reason_code, TWO_MILLION)
    assert [error["line"] for error in decided["errors"]] == list(range(first_line, first_line + 100))
    assert stored_problems(sessions, decided["id"]) == MAX_REPORTED_PROBLEMS == 10_000
    # The bytes themselves are 2 or 4 MB of it; two million problem rows were some 360 MB.
    assert grown < 10 * 1024 * 1024, f"the database grew {grown:,} bytes"
    # "In seconds": two million problem rows took some 40 s of a worker.
    assert took < 20, f"decided in {took:.1f} s"


def test_the_error_report_of_more_than_ten_thousand_problems_says_where_it_stops_and_the_counts_are_exact(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    # Lines 2 and 3 hold the same code: the duplicate, on line 3, is named
    # after the reading, once 12,000 later problems have arrived, and must
    # still be among the first kept. Lines 4 to 12,003 are bad, each its own way.
    lines = [f"{PRODUCT}\tGOOD", f"{PRODUCT}\tTWICE", f"{PRODUCT}\tTWICE"]
    lines += [f"{PRODUCT}\tbad code {n}" for n in range(12_000)]
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])

    assert (decided["status"], decided["error_count"]) == ("rejected", 12_001)
    assert [error["line"] for error in decided["errors"]] == [3, *range(4, 103)]
    assert decided["errors"][0]["reason_code"] == "duplicate_in_file"
    assert stored_problems(sessions, decided["id"]) == 10_000

    rows = report_rows(client, acme, decided["id"])
    assert rows[0] == ["line", "reason_code", "message"]
    assert [int(row[0]) for row in rows[1:-1]] == [3, *range(4, 10_003)]
    assert rows[-1] == ["", "", "… and 2,001 more problems not listed: only the first 10,000 by line are kept"]

    said = "\n".join(verdict(decided))  # what the command-line client prints
    assert "12,001 problems" in said and "the first 10,000 by line are in the report" in said
    assert post_login(client, acme.email, acme.password).status_code == 302
    page = client.get(f"/uploads/{decided['id']}").get_data(as_text=True)
    assert "12,001 problems in all; the first 100 are listed here." in page
    assert "it lists the first 10,000 problems by line" in page


def test_a_report_of_fewer_problems_than_are_kept_lists_them_all_and_says_nothing_more(
    client: FlaskClient, acme: Tenant
) -> None:
    lines = [f"{PRODUCT}\tbad code {n}" for n in range(150)]
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])

    rows = report_rows(client, acme, decided["id"])
    assert decided["error_count"] == 150 and len(rows) == 151
    assert [int(row[0]) for row in rows[1:]] == list(range(1, 151))
    assert "every one is in the report" in "\n".join(verdict(decided))
