"""The existence oracle (docs/product.md#duplicates): a publisher learns of
at most FOREIGN_DUPLICATES_PER_DAY codes a day that exist under another
publisher, whatever it sends (TXT or CSV, dry runs or real requests), and
always of its own; the withheld ones are counted on /metrics and the
operator page. And no code reaches the database server's own log.

The requests are uploaded through the real API and decided in this process,
as a worker would decide them; everything the prober gets back (the upload
objects, the error reports, the LicenseSpring import results, the request
pages) is searched for the other publisher's codes.
"""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shared import loading, states
from shared.config import Settings
from tests.conftest import TEST_DATA_DIR, Tenant
from tests.pipeline.conftest import queued_request, txt, upload
from tests.web.test_metrics import scrape, value
from tests.web.test_operator_page import log_in, make_operator

RIVAL, PROBER = 5100, 5200
RIVAL_CODES = [f"RIVAL-{n:06d}" for n in range(3000)]
OWN_CODES = [f"PROBER-{n:04d}" for n in range(50)]
RIVAL_CODE = re.compile(r"RIVAL-\d{6}")
OWN_CODE = re.compile(r"PROBER-\d{4}")


@pytest.fixture
def rival(make_tenant: Any) -> Tenant:
    return make_tenant("rival", (RIVAL,))


@pytest.fixture
def prober(make_tenant: Any) -> Tenant:
    return make_tenant("prober", (PROBER,))


def decide(engine: Engine, sessions: sessionmaker[Session], request_id: int, per_day: int) -> str:
    """What a worker does, in this process: claim, then the Code Generator."""
    with sessions.begin() as session:
        held = states.claim(session, request_id, 60)
    assert held is not None
    return loading.decide(engine, held, 60, per_day)


def store(engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, codes: list[str]) -> None:
    product = tenant.product_ids[0]
    request_id = queued_request(sessions, tenant, txt(*(f"{product}\t{code}" for code in codes)))
    assert decide(engine, sessions, request_id, 1000) == "completed"


def csv_file(codes: list[str]) -> bytes:
    return ("license__license_key,product__short_code\n" + "".join(f"{c},prober-{PROBER}\n" for c in codes)).encode()


def import_from_csv(client: FlaskClient, tenant: Tenant, content: bytes) -> int:
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "codes.csv")})
    response = client.post(
        "/api/v1/licenses/import_from_csv/",
        data=body,
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 200, response.data
    job_id: int = response.get_json()["job_id"]
    return job_id


def everything_said(
    client: FlaskClient, tenant: Tenant, request_id: int, *, logged_in: bool = False
) -> tuple[dict[str, Any], str]:
    """The upload object, and every text the publisher can get about the
    request: the object, its error report, its import result, and its page
    on the screens when the client is logged in as the publisher."""
    upload_object = client.get(f"/api/v1/uploads/{request_id}", headers=tenant.auth).get_json()
    report = client.get(f"/api/v1/uploads/{request_id}/errors.csv", headers=tenant.auth)
    assert report.status_code == 200
    imported = client.get(f"/api/v1/licenses-import-results/{request_id}/", headers=tenant.auth)
    said = [str(upload_object), report.get_data(as_text=True), imported.get_data(as_text=True)]
    if logged_in:
        page = client.get(f"/uploads/{request_id}")
        assert page.status_code == 200
        said.append(page.get_data(as_text=True))
    return upload_object, "\n".join(said)


def report_rows(client: FlaskClient, tenant: Tenant, request_id: int) -> list[list[str]]:
    report = client.get(f"/api/v1/uploads/{request_id}/errors.csv", headers=tenant.auth)
    return list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))[1:]


def budget_rows(sessions: sessionmaker[Session], tenant: Tenant) -> list[tuple[int, int, int]]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT named, withheld, withheld_requests FROM foreign_duplicate_budgets "
                "WHERE publisher_id = :id ORDER BY day"
            ),
            {"id": tenant.publisher_id},
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_publisher_learns_of_at_most_the_days_limit_of_another_publishers_codes_and_of_all_its_own(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    rival: Tenant,
    prober: Tenant,
) -> None:
    per_day = settings.foreign_duplicates_per_day
    assert per_day == 1000  # the default
    store(engine, sessions, rival, RIVAL_CODES)
    store(engine, sessions, prober, OWN_CODES)
    log_in(client, prober)

    def txt_of(codes: list[str]) -> bytes:
        return txt(*(f"{PROBER}\t{code}" for code in codes))

    # Each file: its own 50 codes, a fresh code, and the rival's codes in
    # an order that makes each request name codes not named before.
    backwards = RIVAL_CODES[::-1]
    sent: list[tuple[str, list[str]]] = [
        ("txt", RIVAL_CODES[:400]),  # 400 named
        ("txt dry run", backwards),  # 600 more named, 2,400 withheld
        ("txt", RIVAL_CODES),  # all 3,000 withheld
        ("csv import", backwards),
        ("csv dry run", RIVAL_CODES),
        ("txt dry run", RIVAL_CODES[1000:2000]),
    ]
    learned: set[str] = set()
    for number, (how, foreign) in enumerate(sent):
        codes = [*OWN_CODES, f"FRESH-{number}", *foreign]
        if how == "csv import":
            request_id = import_from_csv(client, prober, csv_file(codes))
        else:
            content = csv_file(codes) if how.startswith("csv") else txt_of(codes)
            response = upload(client, prober, PROBER, content, dry_run=str("dry run" in how).lower())
            assert response.status_code == 202, response.data
            request_id = response.get_json()["id"]
        assert decide(engine, sessions, request_id, per_day) == "rejected"

        upload_object, said = everything_said(client, prober, request_id, logged_in=True)
        assert upload_object["reason_code"] == "duplicate_existing", (how, upload_object["reason"])
        # Every problem counts, the withheld ones too: 50 own, the foreign ones.
        assert upload_object["error_count"] == len(OWN_CODES) + len(foreign), how
        assert upload_object["summary"]["valid_rows"] == 1, how  # the fresh code
        rows = report_rows(client, prober, request_id)
        assert {code for row in rows for code in OWN_CODE.findall(row[2])} == set(OWN_CODES), how
        named_here = set(RIVAL_CODE.findall(said))
        withheld = [row for row in rows if row[0] == "0"]
        if len(named_here) < len(foreign):
            # One row says how many were withheld, naming no line and no code.
            assert len(withheld) == 1, (how, withheld)
            assert withheld[0][1] == "duplicate_existing"
            assert withheld[0][2].startswith(f"{len(foreign) - len(named_here):,} further codes of this file"), withheld
            assert not RIVAL_CODE.search(withheld[0][2]) and "line" not in withheld[0][2]
        else:
            assert withheld == [], how
        learned |= named_here

    assert len(learned) == per_day
    total_foreign = sum(len(foreign) for _, foreign in sent)
    assert budget_rows(sessions, prober) == [(per_day, total_foreign - per_day, len(sent) - 1)]


def test_the_limit_is_per_utc_day_and_per_publisher(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    rival: Tenant,
    prober: Tenant,
    make_tenant: Any,
) -> None:
    store(engine, sessions, rival, RIVAL_CODES[:10])
    other = make_tenant("other", (5300,))

    def named(tenant: Tenant) -> set[str]:
        product = tenant.product_ids[0]
        request_id = queued_request(sessions, tenant, txt(*(f"{product}\t{c}" for c in RIVAL_CODES[:10])))
        assert decide(engine, sessions, request_id, 4) == "rejected"
        return set(RIVAL_CODE.findall(everything_said(client, tenant, request_id)[1]))

    assert named(prober) == set(RIVAL_CODES[:4])
    assert named(prober) == set()
    assert named(other) == set(RIVAL_CODES[:4])  # another publisher has a budget of its own
    with sessions.begin() as session:  # the prober's spending was yesterday's
        session.execute(text("UPDATE foreign_duplicate_budgets SET day = day - 1"))
    assert named(prober) == set(RIVAL_CODES[:4])
    assert [row[:2] for row in budget_rows(sessions, prober)] == [(4, 16), (4, 6)]


def test_metrics_and_the_operator_page_count_the_withheld_codes(
    client: FlaskClient,
    engine: Engine,
    sessions: sessionmaker[Session],
    rival: Tenant,
    prober: Tenant,
    make_tenant: Any,
) -> None:
    store(engine, sessions, rival, RIVAL_CODES[:25])
    assert value(scrape(client), "licensecodes_foreign_duplicates_withheld_total") == 0
    for _ in range(2):
        request_id = queued_request(sessions, prober, txt(*(f"{PROBER}\t{c}" for c in RIVAL_CODES[:25])))
        assert decide(engine, sessions, request_id, 20) == "rejected"

    samples = scrape(client)
    assert value(samples, "licensecodes_foreign_duplicates_withheld_total") == 5 + 25
    assert value(samples, "licensecodes_foreign_duplicate_limit_reached_total") == 2

    operator = make_tenant("operator", (5400,))
    make_operator(sessions, operator)
    log_in(client, operator)
    page = client.get("/operator").get_data(as_text=True)
    section = page[page.index('id="withheld-heading"') :]
    row = re.search(r'<th scope="row">prober</th>(.*?)</tr>', section, re.S)
    assert row is not None, section
    assert re.findall(r'<td class="num">([\d,]+)</td>', row.group(1)) == ["20", "30", "30", "2"]
    assert not RIVAL_CODE.search(page)


def server_log(engine: Engine) -> str | None:
    """The database server's log, when this session can read it: the
    embedded server's file (shared.embedded.postgres starts it with its log
    in its data directory), or an external server's current log file
    through pg_read_file (a superuser with logging_collector on)."""
    if not os.environ.get("DATABASE_URL"):
        return (TEST_DATA_DIR / "postgres" / "log").read_text(errors="replace")
    with engine.connect() as connection:
        try:
            path = connection.scalar(text("SELECT pg_current_logfile()"))
            return None if path is None else str(connection.scalar(text("SELECT pg_read_file(:p)"), {"p": path}))
        except Exception:  # no right to read it
            return None


def test_a_rejected_duplicate_leaves_no_code_in_the_database_servers_log(
    engine: Engine, sessions: sessionmaker[Session], rival: Tenant, prober: Tenant
) -> None:
    before = server_log(engine)
    if before is None:
        pytest.skip(
            "the external database server's log cannot be read from here (pg_current_logfile() is unset, "
            "or the role may not read it); the embedded run checks it"
        )
    taken, twice = f"TAKEN-{uuid.uuid4().hex}", f"TWICE-{uuid.uuid4().hex}"
    store(engine, sessions, rival, [taken])
    existing = queued_request(sessions, prober, txt(f"{PROBER}\tFRESH-1", f"{PROBER}\t{taken}"))
    in_file = queued_request(sessions, prober, txt(f"{PROBER}\t{twice}", f"{PROBER}\tFRESH-2", f"{PROBER}\t{twice}"))
    assert decide(engine, sessions, existing, 1000) == "rejected"
    assert decide(engine, sessions, in_file, 1000) == "rejected"

    # A line of our own, to show that the log read is the live one.
    marker = f"oracle-test-marker-{uuid.uuid4().hex}"
    with engine.connect() as connection:
        connection.execute(text(f"DO $$ BEGIN RAISE WARNING '{marker}'; END $$"))

    after = server_log(engine)
    assert after is not None
    written = after[len(before) :]
    assert marker in written
    assert taken not in written and twice not in written, written[-2000:]
    assert "already exists" not in written, written[-2000:]
