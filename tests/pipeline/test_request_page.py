"""The page of one request (/uploads/<id>): its times and
checksums, its codes download or its problems by line, its delete button
while queued; linked from the requests table, escaped throughout, and a 404
for another publisher's request (tests/pipeline/test_tenant_isolation.py
walks it with every route)."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.pipeline.test_screens import PRODUCT, Parsed, send_from_screen, wait_for_row, words
from tests.web.test_login import csrf_token, post_login

pytestmark = pytest.mark.usefixtures("workers")


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def page_of(client: FlaskClient, upload_id: int) -> str:
    response = client.get(f"/uploads/{upload_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def by_id(markup: str, element_id: str) -> str:
    """The text of the element with that id (no nested element of its tag)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', markup, re.S)
    assert found, element_id
    return words(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))))


def test_the_requests_table_links_each_row_to_its_page(client: FlaskClient, acme: Tenant) -> None:
    upload_id = send_from_screen(client, txt("1234\tLINKED-1"))
    row = wait_for_row(client, upload_id)
    assert row.links[0] == f"/uploads/{upload_id}"


def test_a_completed_request_shows_its_codes_their_download_and_both_checksums(
    client: FlaskClient, acme: Tenant
) -> None:
    content = txt("1234\tPAGE-1", "1234\tPAGE-2\t9")
    upload_id = send_from_screen(client, content, filename="<b>codes</b>.txt")
    assert wait_for_row(client, upload_id).status == "completed"
    markup = page_of(client, upload_id)
    assert "<b>codes</b>" not in markup and "&lt;b&gt;codes&lt;/b&gt;.txt" in markup  # escaped
    assert re.search(r"<h1>Upload \d+", markup)
    assert by_id(markup, "upload-sha256") == hashlib.sha256(content).hexdigest()
    assert by_id(markup, "code-count") == "2"
    download = client.get(f"/uploads/{upload_id}/codes.txt")
    assert by_id(markup, "codes-sha256") == hashlib.sha256(download.data).hexdigest()
    assert f'href="/uploads/{upload_id}/codes.txt"' in markup
    assert by_id(markup, "download-codes") == f"Download the codes of upload {upload_id} (TXT)"
    assert "Completed" in markup
    assert "Time left" not in markup and "Delete" not in markup


def test_a_rejected_request_lists_its_problems_by_line_with_the_total_and_the_report(
    client: FlaskClient, acme: Tenant
) -> None:
    lines = ["1234\t<script>alert(1)</script>", *(f"1234\tcode {n}" for n in range(130))]
    upload_id = send_from_screen(client, txt(*lines))
    assert wait_for_row(client, upload_id).status == "rejected"
    markup = page_of(client, upload_id)
    assert "<script>alert" not in markup  # escaped
    assert by_id(markup, "error-count").startswith("131 problems in all; the first 100 are listed")
    assert '<th scope="col" class="num">Line</th>' in markup
    rows = re.findall(r'<tr><th scope="row" class="num">(\d+)</th>', markup)
    assert len(rows) == 100 and rows[:2] == ["1", "2"]
    assert f'href="/uploads/{upload_id}/errors.csv"' in markup
    assert f"/uploads/{upload_id}/codes.txt" not in markup


def test_a_queued_request_shows_the_time_left_and_a_delete_button(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = queued_request(sessions, acme, txt("1234\tWAITING-1"))
    markup = page_of(client, upload_id)
    assert re.fullmatch(r"\d+ min \d+ s|\d+ s", by_id(markup, "time-left"))
    controls = [
        (c["tag"], c.get("type")) for c in Parsed(markup).controls if c["form"] == f"/uploads/{upload_id}/delete"
    ]
    assert controls == [("input", "hidden"), ("button", "submit")]  # the CSRF token, and Delete
    assert "codes-sha256" not in markup


def test_a_pending_request_asks_the_script_to_refresh_its_section_from_the_fragment(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = queued_request(sessions, acme, txt("1234\tWAITING-1"))
    markup = page_of(client, upload_id)
    region = Parsed(markup).attributes["request"]
    assert region["data-poll"] == "true" and region["data-src"] == f"/uploads/{upload_id}/fragment"
    assert region["data-announce"] == f"Upload {upload_id} is queued."
    assert "reload it to see the request's status" in markup  # the <noscript> hint
    assert re.search(r'<p id="request-live" class="visually-hidden" aria-live="polite" data-poll-live></p>', markup)

    response = client.get(f"/uploads/{upload_id}/fragment")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    fragment = response.get_data(as_text=True)
    # The content alone: no layout, no script, no flashed message taken from the next page.
    assert "<html" not in fragment and "<header" not in fragment and "<script" not in fragment
    assert Parsed(fragment).attributes["request"] == region
    assert by_id(fragment, "time-left") and "Delete" in fragment


def test_a_decided_request_is_not_refreshed(client: FlaskClient, acme: Tenant) -> None:
    upload_id = send_from_screen(client, txt("1234\tDONE-1"))
    assert wait_for_row(client, upload_id).status == "completed"
    markup = page_of(client, upload_id)
    region = Parsed(markup).attributes["request"]
    assert region["data-poll"] == "false"
    assert region["data-announce"] == f"Upload {upload_id} is completed: 1 code."
    assert "<noscript>" not in markup


def test_a_flashed_message_waits_for_the_page_not_the_fragment(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    queued = queued_request(sessions, acme, txt("1234\tWAITING-1"))
    other = queued_request(sessions, acme, txt("1234\tWAITING-2"))
    token = csrf_token(client.get(f"/uploads/{queued}"))
    assert client.post(f"/uploads/{queued}/delete", data={"csrf_token": token}).status_code == 303
    assert "is deleted" not in client.get(f"/uploads/{other}/fragment").get_data(as_text=True)
    assert f"Upload {queued} (f.txt) is deleted" in page_of(client, other)


def test_another_publishers_request_and_a_missing_one_are_404(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    other = make_tenant("globex", (4321,))
    theirs = queued_request(sessions, other, txt("4321\tTHEIRS-1"), enqueued=False)
    for path in ("", "/fragment"):
        assert client.get(f"/uploads/{theirs}{path}").status_code == 404
        assert client.get(f"/uploads/999999999{path}").status_code == 404
    # The same page for both, a page that says what happened and what to do.
    page = client.get(f"/uploads/{theirs}").get_data(as_text=True)
    missing = client.get("/uploads/999999999").get_data(as_text=True)
    assert "<title>Not found" in page and f"There is no upload {theirs}" in page
    assert "There is no upload 999999999" in missing
    assert "find what you were looking for from your products" in page


def test_the_page_needs_a_login(client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]) -> None:
    tenant = make_tenant("acme", (PRODUCT,))
    upload_id = queued_request(sessions, tenant, txt("1234\tLOCKED-1"), enqueued=False)
    response = client.get(f"/uploads/{upload_id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
