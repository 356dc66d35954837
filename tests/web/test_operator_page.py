"""The operator page: every publisher's queue, to operators only,
with no code value on it; the operator role granted by the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.broker import redis_client
from shared.config import Settings
from shared.process_restarts import RESTARTS_KEY, ProcessDeath, record_death
from shared.tenants import grant_operator
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.web.test_login import post_login

SECRET_CODE = "GLOBEX-SECRET-CODE-0001"


def log_in(client: FlaskClient, tenant: Tenant) -> None:
    assert post_login(client, tenant.email, tenant.password).status_code == 302


def make_operator(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    with sessions.begin() as session:
        grant_operator(session, tenant.email)


def change(sessions: sessionmaker[Session], sql: str, **values: Any) -> None:
    with sessions.begin() as session:
        session.execute(text(sql), values)


def test_the_page_is_404_to_a_publisher_who_is_not_an_operator(client: FlaskClient, make_tenant: Any) -> None:
    log_in(client, make_tenant("acme", (101,)))

    response = client.get("/operator")

    assert response.status_code == 404
    assert 'href="/operator"' not in client.get("/products").get_data(as_text=True)


def test_the_page_asks_for_a_login(client: FlaskClient) -> None:
    response = client.get("/operator")

    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_an_operator_sees_every_publishers_queue_and_no_code(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    operator = make_tenant("acme", (101,))
    make_operator(sessions, operator)
    other = make_tenant("globex", (202,))
    pending = queued_request(sessions, other, txt(f"202\t{SECRET_CODE}"))
    overdue = queued_request(sessions, other, txt("202\tGLOBEX-SECRET-CODE-0002"))
    change(sessions, "UPDATE upload_requests SET deadline_at = now() - interval '1 minute' WHERE id = :id", id=overdue)
    processing = queued_request(sessions, other, txt("202\tGLOBEX-SECRET-CODE-0003"))
    change(
        sessions,
        "UPDATE upload_requests SET status = 'processing', claim_token = gen_random_uuid(), attempts = 3, "
        "lease_until = now() + interval '2 minutes', claim_backend_pid = 4242, started_at = now() WHERE id = :id",
        id=processing,
    )
    for reason in ("format", "format", "encoding"):
        rejected = queued_request(sessions, other, txt("202\tGLOBEX-SECRET-CODE-0004"))
        change(
            sessions,
            "UPDATE upload_requests SET status = 'rejected', reason_code = :reason, reason = 'bad', "
            "finished_at = now() WHERE id = :id",
            id=rejected,
            reason=reason,
        )
    log_in(client, operator)

    response = client.get("/operator")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert 'href="/operator"' in page  # the nav link, for an operator
    pending_rows, processing_rows = rows_of(page, "pending-caption"), rows_of(page, "processing-caption")
    assert f"#{pending}" in pending_rows and f"#{overdue}" in pending_rows
    assert "globex" in pending_rows
    assert row_of(pending_rows, overdue).count("Overdue") == 1
    assert "Overdue" not in row_of(pending_rows, pending)
    processing_row = row_of(processing_rows, processing)
    assert '<td class="num">3</td>' in processing_row
    assert "4242" in processing_row
    rejections = rows_of(page, "rejections-heading")
    assert '<code>format</code></th><td class="num">2</td>' in rejections
    assert '<code>encoding</code></th><td class="num">1</td>' in rejections
    assert "3 rejected" in page  # the chart's text alternative
    assert 'role="img"' in page and 'aria-labelledby="chart-summary"' in page
    assert "GLOBEX-SECRET-CODE" not in page
    assert "f.txt" not in page  # no file name either
    assert "<script" not in page


def test_grant_operator_on_the_command_line_opens_the_page(run_cli: Any, client: FlaskClient, make_tenant: Any) -> None:
    tenant = make_tenant("acme", (101,))
    log_in(client, tenant)
    assert client.get("/operator").status_code == 404

    result = run_cli("grant-operator", tenant.email.upper())

    assert result.returncode == 0, result.stderr
    assert tenant.email in result.stdout
    assert client.get("/operator").status_code == 200  # the same session: the role is read on every request


def test_grant_operator_for_an_unknown_address_fails_with_one_line(run_cli: Any, make_tenant: Any) -> None:
    make_tenant("acme")

    result = run_cli("grant-operator", "nobody@example.com")

    assert result.returncode == 1
    assert result.stderr.strip() == "Error: there is no user with the e-mail address nobody@example.com"


def rows_of(page: str, anchor: str) -> str:
    """The part of the page from `anchor` to the end of its table."""
    start = page.index(anchor)
    return page[start : page.index("</table>", start)]


def row_of(rows: str, request_id: int) -> str:
    start = rows.index(f"#{request_id}</th>")
    return rows[start : rows.index("</tr>", start)]


def test_an_operator_sees_the_processes_serve_restarted_and_where_it_gave_up(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session], settings: Settings
) -> None:
    operator = make_tenant("acme", (101,))
    make_operator(sessions, operator)
    log_in(client, operator)
    redis = redis_client(settings.redis_url or "")
    redis.delete(RESTARTS_KEY)  # the session's Redis: what earlier tests recorded
    assert "No process has died." in client.get("/operator").get_data(as_text=True)
    died_at = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
    record_death(redis, ProcessDeath("worker", died_at, "was killed by signal 9 (SIGKILL)", 4000.0, 1, 1.0))
    record_death(redis, ProcessDeath("beat", died_at, "exited with status 1", 0.4, 5, None))

    page = client.get("/operator").get_data(as_text=True)

    rows = rows_of(page, "restarts-caption")
    beat, worker = rows.index('<th scope="row">beat</th>'), rows.index('<th scope="row">worker</th>')
    assert beat < worker  # newest first
    assert "was killed by signal 9 (SIGKILL)" in rows[worker:]
    assert "1 h 6 min" in rows[worker:] and "restarted after 1 s" in rows[worker:]
    assert '<td class="num">5</td>' in rows[beat:worker]
    assert "Gave up: stopped everything" in rows[beat:worker]
