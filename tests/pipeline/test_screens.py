"""The Upload Codes screen and the Code View (docs/product.md#screens), logged in with
CSRF protection on (as in production), a real worker deciding the uploads."""

from __future__ import annotations

import html
import io
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from shared.models import LicenseCode, UploadBlob, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import DECIDED, queued_request, txt, upload, wait_decided
from tests.web.test_login import csrf_token, post_login

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT = 1234
SCREEN = f"/products/{PRODUCT}/uploads"
TABLE = f"/products/{PRODUCT}/uploads/table"
CODE_VIEW = f"/products/{PRODUCT}/codes"
COLUMNS = ("ID", "File", "Status", "Codes", "Actions", "Reason", "Times (UTC)", "Code type")


@dataclass
class Row:
    status: str
    text: str = ""
    cells: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)


class Parsed(HTMLParser):
    """What a test reads off a page: the requests table's rows by upload id,
    the form controls in order, the labels, the codes listed."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.rows: dict[int, Row] = {}
        # input, select and button, in document order, with the action of their form
        self.controls: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}
        self.codes: list[str] = []
        self.attributes: dict[str, dict[str, str]] = {}  # by id
        self._row: Row | None = None
        self._form = ""
        self._label: str | None = None
        self._in_code_cell = False
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.attributes[attributes["id"]] = attributes
        if tag == "tr" and "data-upload-id" in attributes:
            self._row = self.rows[int(attributes["data-upload-id"])] = Row(attributes["data-status"])
        elif tag in ("td", "th") and self._row is not None:
            self._row.cells.append("")
        elif tag == "a" and self._row is not None:
            self._row.links.append(attributes["href"])
        elif tag == "form":
            self._form = attributes.get("action", "")
            if self._row is not None:
                self._row.forms.append(self._form)
        elif tag in ("input", "select", "button"):
            self.controls.append({"tag": tag, "form": self._form, **attributes})
        elif tag == "label":
            self._label = attributes["for"]
            self.labels[self._label] = ""
        elif tag == "th" and attributes.get("class") == "code":
            self._in_code_cell = True
            self.codes.append("")

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row.text += data
            if self._row.cells:
                self._row.cells[-1] += data
        if self._label is not None:
            self.labels[self._label] += data
        if self._in_code_cell:
            self.codes[-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        elif tag == "form":
            self._form = ""
        elif tag == "label":
            self._label = None
        elif tag == "th":
            self._in_code_cell = False


def page(response: TestResponse) -> Parsed:
    assert response.status_code == 200, response.get_data(as_text=True)
    return Parsed(response.get_data(as_text=True))


def showing(first: int, last: int, total: int, noun: str) -> str:
    return f"Showing {first}\N{EN DASH}{last} of {total} {noun}"


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    """A publisher with product 1234, logged in."""
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def send(client: FlaskClient, content: bytes, *, token: str | None, filename: str = "codes.txt", **fields: str) -> Any:
    """Post the Upload Codes form as a browser does: the CSRF token first."""
    parts: dict[str, Any] = {} if token is None else {"csrf_token": token}
    parts |= {"code_type": "activation", **fields, "file": FileStorage(io.BytesIO(content), filename)}
    boundary, body = encode_multipart(parts)
    return client.post(SCREEN, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def send_from_screen(client: FlaskClient, content: bytes, **fields: str) -> int:
    """Upload through the screen; return the id of the request it queued."""
    response = send(client, content, token=csrf_token(client.get(SCREEN)), **fields)
    assert (response.status_code, response.location) == (303, SCREEN)
    queued = r"Upload (\d+) \([^)]*\) is queued; it is decided within \d+ minutes\."
    notice = re.search(queued, client.get(SCREEN).get_data(as_text=True))
    assert notice is not None
    return int(notice.group(1))


def wait_for_row(client: FlaskClient, upload_id: int, timeout: float = 60) -> Row:
    """The request's row in the table fragment once it is decided."""
    deadline = time.monotonic() + timeout
    while True:
        row = page(client.get(TABLE)).rows[upload_id]
        if row.status in DECIDED or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


def count(sessions: sessionmaker[Session], model: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def delete_from_screen(client: FlaskClient, upload_id: int) -> TestResponse:
    token = csrf_token(client.get(SCREEN))
    return client.post(f"/uploads/{upload_id}/delete", data={"csrf_token": token})


def flashed(client: FlaskClient) -> str:
    """The screen's notices after a redirect to it."""
    markup = client.get(SCREEN).get_data(as_text=True)
    return " ".join(words(html.unescape(m)) for m in re.findall(r'<p class="notice[^"]*"[^>]*>(.*?)</p>', markup))


def test_the_upload_form_is_labelled_and_carries_its_csrf_token_first(client: FlaskClient, acme: Tenant) -> None:
    screen = page(client.get(SCREEN))
    form = [c for c in screen.controls if c["form"] == SCREEN]
    assert [c.get("name") for c in form] == ["csrf_token", "code_type", "dry_run", "file", None]
    assert form[0]["type"] == "hidden" and form[0]["value"]
    assert form[2]["type"] == "checkbox" and form[3]["type"] == "file"
    assert words(screen.labels[form[1]["id"]]) == "Code type"
    assert words(screen.labels[form[2]["id"]]) == "Check only (dry run)"
    assert words(screen.labels[form[3]["id"]]) == "File"
    assert form[4]["tag"] == "button" and form[4]["type"] == "submit" and "tabindex" not in form[4]


def test_a_good_file_sent_from_the_screen_completes_and_downloads_exactly_its_codes(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = send_from_screen(client, txt("1234\tALPHA-1", "1234\tBETA-2\t7\t3", "1234\tGAMMA-3\t\t\t2"))
    assert upload_id in page(client.get(SCREEN)).rows

    row = wait_for_row(client, upload_id)
    assert row.status == "completed", row.text
    assert "Completed" in row.text and "codes.txt" in words(row.text)
    table = client.get(TABLE).get_data(as_text=True)
    assert tuple(re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', table)) == COLUMNS
    assert '<caption id="requests-caption">' in table
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>', table)
    assert f"/uploads/{upload_id}/codes.txt" in row.links
    assert row.forms == []  # no Delete once decided
    assert words(row.cells[COLUMNS.index("Codes")]) == "3"

    download = client.get(f"/uploads/{upload_id}/codes.txt")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="codes-{upload_id}.txt"'
    assert download.data == txt("1234\tALPHA-1\t365", "1234\tBETA-2\t7\t3", "1234\tGAMMA-3\t365\t\t2")
    assert count(sessions, LicenseCode) == 3


def test_a_bad_file_shows_rejected_with_the_reason_and_the_problems_by_line(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = send_from_screen(client, txt("1234\tGOOD-1", "9999\tFOREIGN-2", "1234\t=SUM(A1)"))
    row = wait_for_row(client, upload_id)
    assert row.status == "rejected", row.text
    text = words(row.text)
    assert "Rejected" in text and "product_mismatch" in text and "All problems (2)" in text
    assert "Line 2 product_mismatch" in text and "Line 3 format" in text
    assert row.links == [f"/uploads/{upload_id}", f"/uploads/{upload_id}/errors.csv"]  # no download
    assert row.forms == []  # no delete
    assert client.get(f"/uploads/{upload_id}/codes.txt").status_code == 409
    assert count(sessions, LicenseCode) == 0


def test_a_long_list_of_problems_says_how_many_more_were_not_listed(client: FlaskClient, acme: Tenant) -> None:
    upload_id = send_from_screen(client, txt(*(f"1234\tcode {n}" for n in range(130))))
    row = wait_for_row(client, upload_id)
    assert row.status == "rejected"
    assert "All problems (130)" in words(row.text)
    assert "… and 30 more, not listed." in words(row.text)


def test_a_dry_run_is_marked_and_offers_no_download(client: FlaskClient, acme: Tenant) -> None:
    upload_id = send_from_screen(client, txt("1234\tDRY-1", "1234\tDRY-2\t9"), dry_run="true")
    row = wait_for_row(client, upload_id)
    assert row.status == "completed"
    assert "Dry run" in row.text and "nothing was stored" in words(row.text)
    assert row.links == [f"/uploads/{upload_id}"]  # its page, and no download
    refused = client.get(f"/uploads/{upload_id}/codes.txt")
    assert refused.status_code == 409 and "dry run" in refused.get_data(as_text=True)


def test_an_upload_without_the_csrf_token_is_refused_and_stores_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    assert send(client, txt("1234\tNO-TOKEN-1"), token=None).status_code == 400
    assert send(client, txt("1234\tFORGED-1"), token="forged." + "x" * 40).status_code == 400
    assert count(sessions, UploadRequest) == 0
    assert count(sessions, UploadBlob) == 0


def test_the_csrf_token_may_come_in_the_x_csrftoken_header_instead(client: FlaskClient, acme: Tenant) -> None:
    token = csrf_token(client.get(SCREEN))
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(txt("1234\tHEADER-1")), "h.txt")})
    response = client.post(
        SCREEN,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"X-CSRFToken": token},
    )
    assert (response.status_code, response.location) == (303, SCREEN)


def test_a_refused_upload_is_explained_on_the_screen_and_stores_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    token = csrf_token(client.get(SCREEN))
    empty = send(client, b"", token=token)
    assert (empty.status_code, empty.location) == (303, SCREEN)
    assert "The file is empty (0 bytes)." in flashed(client)
    wrong_type = send(client, txt("1234\tX-1"), token=token, code_type="lifetime")
    assert (wrong_type.status_code, wrong_type.location) == (303, SCREEN)
    assert "Code_type must be activation or evaluation" in flashed(client)
    assert count(sessions, UploadRequest) == count(sessions, UploadBlob) == 0


def test_a_queued_request_is_deleted_from_the_screen(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    queued = queued_request(sessions, acme, txt("1234\tQ-1"))
    row = page(client.get(SCREEN)).rows[queued]
    assert row.status == "queued" and row.forms == [f"/uploads/{queued}/delete"]

    assert client.post(f"/uploads/{queued}/delete").status_code == 400  # no CSRF token
    response = delete_from_screen(client, queued)
    assert (response.status_code, response.location) == (303, SCREEN)
    assert f"Upload {queued} (f.txt) is deleted" in flashed(client)
    assert queued not in page(client.get(TABLE)).rows
    assert count(sessions, UploadBlob) == 0


def test_a_completed_request_cannot_be_deleted_and_stays_listed(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = send_from_screen(client, txt("1234\tKEEP-1"))
    assert wait_for_row(client, upload_id).status == "completed"
    response = delete_from_screen(client, upload_id)
    assert (response.status_code, response.location) == (303, SCREEN)
    assert f"Upload {upload_id} is completed; only a queued upload can be deleted." in flashed(client)
    assert page(client.get(TABLE)).rows[upload_id].status == "completed"
    assert count(sessions, LicenseCode) == 1


def test_the_table_asks_the_script_to_poll_only_while_a_request_is_pending(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    screen = client.get(SCREEN).get_data(as_text=True)
    assert '<script src="/static/uploads.js" defer></script>' in screen
    assert not re.search(r"<script(?![^>]*\bsrc=)", screen)  # no inline script
    with client.get("/static/uploads.js") as script:
        assert script.status_code == 200

    def polling() -> str:
        return page(client.get(TABLE)).attributes["requests"]["data-poll"]

    assert polling() == "false"
    queued = queued_request(sessions, acme, txt("1234\tWAIT-1"))
    assert polling() == "true"
    assert page(client.get(TABLE)).attributes["requests"]["data-src"] == TABLE
    # A later page refreshes itself, not the first one.
    assert page(client.get(TABLE, query_string={"after": queued + 1})).attributes["requests"]["data-src"] == (
        f"{TABLE}?after={queued + 1}"
    )
    assert "reload the page" in client.get(SCREEN).get_data(as_text=True)  # the <noscript> hint
    delete_from_screen(client, queued)
    assert polling() == "false"


def test_the_requests_table_is_paginated_newest_first(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = [queued_request(sessions, acme, txt(f"1234\tP-{n}")) for n in range(23)]
    first = page(client.get(SCREEN))
    assert list(first.rows) == ids[::-1][:20]
    first_html = client.get(SCREEN).get_data(as_text=True)
    assert showing(1, 20, 23, "requests") in words(first_html)
    links = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', first_html))
    assert html.unescape(links["next"]) == f"{SCREEN}?after={ids[3]}"
    second = client.get(html.unescape(links["next"])).get_data(as_text=True)
    assert list(Parsed(second).rows) == ids[::-1][20:]
    assert "Showing 3 of 23 requests" in words(second)
    back = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', second))["prev"]
    assert list(Parsed(client.get(html.unescape(back)).get_data(as_text=True)).rows) == ids[::-1][:20]
    numbered = client.get(SCREEN, query_string={"page": 2}).get_data(as_text=True)
    assert list(Parsed(numbered).rows) == ids[::-1][20:]
    assert showing(21, 23, 23, "requests") in words(numbered)
    assert client.get(TABLE, query_string={"page": "x"}).status_code == 400
    assert client.get(TABLE, query_string={"after": "x"}).status_code == 400


def without_csrf(response: TestResponse) -> str:
    """The page with its CSRF token masked: the token's signature carries a
    timestamp, so two renders a second apart differ there and only there."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', response.get_data(as_text=True))


def test_another_publishers_product_and_requests_respond_404_like_missing_ones(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    beta: Tenant = make_tenant("beta", (2020,))
    foreign = upload(client, beta, 2020, txt("2020\tB-1")).get_json()["id"]
    token = csrf_token(client.get(SCREEN))

    for path in ("/uploads/table", "/uploads", "/codes"):
        theirs = client.get(f"/products/2020{path}")
        missing = client.get(f"/products/9999{path}")
        assert theirs.status_code == missing.status_code == 404
        assert without_csrf(theirs).replace("2020", "N") == without_csrf(missing).replace("9999", "N")
    assert client.get(f"/uploads/{foreign}/codes.txt").status_code == 404
    assert client.post(f"/uploads/{foreign}/delete", data={"csrf_token": token}).status_code == 404
    boundary, body = encode_multipart({"csrf_token": token, "file": FileStorage(io.BytesIO(txt("2020\tX")), "x.txt")})
    sent = client.post("/products/2020/uploads", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert sent.status_code == 404
    assert count(sessions, UploadRequest) == 1  # beta's own, untouched
    assert wait_decided(client, beta, foreign)["status"] == "completed"


@pytest.fixture
def catalogue(client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]) -> list[str]:
    """120 codes C-000…C-119 and three that a LIKE pattern would confuse,
    stored by the worker; C-001 reserved, C-002 distributed."""
    codes = [f"C-{n:03}" for n in range(120)] + ["50%OFF-1", "50_OFF-2", "50XOFF-3"]
    created = upload(client, acme, PRODUCT, txt(*(f"1234\t{code}" for code in codes))).get_json()
    assert wait_decided(client, acme, created["id"])["status"] == "completed"
    with sessions.begin() as session:
        session.execute(update(LicenseCode).where(LicenseCode.code == "C-001").values(status="reserved"))
        session.execute(update(LicenseCode).where(LicenseCode.code == "C-002").values(status="distributed"))
    return sorted(codes)


def codes_listed(client: FlaskClient, **query: Any) -> tuple[list[str], str]:
    response = client.get(CODE_VIEW, query_string=query)
    return page(response).codes, words(response.get_data(as_text=True))


def test_the_code_view_searches_by_a_literal_prefix(client: FlaskClient, catalogue: list[str]) -> None:
    assert codes_listed(client, q="50%")[0] == ["50%OFF-1"]
    assert codes_listed(client, q="50_")[0] == ["50_OFF-2"]
    assert codes_listed(client, q="50")[0] == ["50%OFF-1", "50XOFF-3", "50_OFF-2"]
    assert codes_listed(client, q="C-11")[0] == [f"C-11{n}" for n in range(10)]
    assert codes_listed(client, q="c-")[0] == []  # case matters
    nothing, text = codes_listed(client, q="ZZZ")
    assert nothing == [] and "No codes match this search." in text


def test_the_code_view_filters_by_status(client: FlaskClient, catalogue: list[str]) -> None:
    assert codes_listed(client, status="reserved")[0] == ["C-001"]
    assert codes_listed(client, status="distributed")[0] == ["C-002"]
    available, text = codes_listed(client, status="available", q="C-00")
    assert available == [f"C-00{n}" for n in range(10) if n not in (1, 2)]
    assert showing(1, 8, 8, "codes") in text
    assert codes_listed(client, status="all", q="C-00")[0] == [f"C-00{n}" for n in range(10)]
    assert client.get(CODE_VIEW, query_string={"status": "lost"}).status_code == 400


def test_the_code_view_pages_by_50_in_code_order_and_its_links_keep_the_search(
    client: FlaskClient, catalogue: list[str]
) -> None:
    response = client.get(CODE_VIEW, query_string={"q": "C-", "page": 2})
    listed = page(response).codes
    assert listed == [f"C-{n:03}" for n in range(50, 100)]
    text = words(response.get_data(as_text=True))
    assert showing(51, 100, 120, "codes") in text
    links = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', response.get_data(as_text=True)))
    assert html.unescape(links["prev"]) == f"{CODE_VIEW}?before=C-050&q=C-"
    assert html.unescape(links["next"]) == f"{CODE_VIEW}?after=C-099&q=C-"
    last = client.get(html.unescape(links["next"]))
    assert page(last).codes == [f"C-{n:03}" for n in range(100, 120)]
    assert "Showing 20 of 120 codes" in words(last.get_data(as_text=True))
    assert 'rel="next"' not in last.get_data(as_text=True)
    back = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', last.get_data(as_text=True)))["prev"]
    assert page(client.get(html.unescape(back))).codes == listed
    assert page(client.get(CODE_VIEW)).codes == catalogue[:50]


def test_a_page_number_past_any_end_is_served_without_a_server_error(client: FlaskClient, acme: Tenant) -> None:
    for path in (CODE_VIEW, SCREEN, TABLE):
        past_the_end = client.get(path, query_string={"page": 7})
        assert past_the_end.status_code == 200
        assert "First page" in past_the_end.get_data(as_text=True)
        assert client.get(path, query_string={"page": str(2**70)}).status_code == 400


def test_a_checked_file_is_imported_from_the_screen_once(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    dry_run = send_from_screen(client, txt("1234\tCHECKED-1", "1234\tCHECKED-2\t7"), dry_run="on")
    row = wait_for_row(client, dry_run)
    assert row.status == "completed"
    assert "2 activation" in words(row.text) and "Import it to store the codes" in words(row.text)
    assert f"/uploads/{dry_run}/confirm" in row.forms
    assert count(sessions, LicenseCode) == 0

    token = csrf_token(client.get(SCREEN))
    response = client.post(f"/uploads/{dry_run}/confirm", data={"csrf_token": token})
    assert (response.status_code, response.location) == (303, SCREEN)
    imported = re.search(r"Upload (\d+) imports the file checked by dry run", flashed(client))
    assert imported is not None
    assert wait_for_row(client, int(imported.group(1))).status == "completed"
    assert count(sessions, LicenseCode) == 2

    after = page(client.get(TABLE)).rows[dry_run]
    assert f"/uploads/{dry_run}/confirm" not in after.forms and "Imported" in after.text
    client.post(f"/uploads/{dry_run}/confirm", data={"csrf_token": csrf_token(client.get(SCREEN))})
    assert "already been confirmed" in flashed(client)
    assert count(sessions, LicenseCode) == 2


def test_the_import_button_needs_the_csrf_token(client: FlaskClient, acme: Tenant) -> None:
    dry_run = send_from_screen(client, txt("1234\tCHECKED"), dry_run="on")
    assert wait_for_row(client, dry_run).status == "completed"
    assert client.post(f"/uploads/{dry_run}/confirm").status_code == 400


def test_a_rejected_request_offers_its_full_error_report(client: FlaskClient, acme: Tenant) -> None:
    rejected = send_from_screen(client, txt(*[f"1234\tbad {n}" for n in range(120)]))
    row = wait_for_row(client, rejected)
    assert f"/uploads/{rejected}/errors.csv" in row.links
    report = client.get(f"/uploads/{rejected}/errors.csv")
    assert report.status_code == 200
    assert report.data.decode("utf-8-sig").count("\r\n") == 121
