"""The requests table tells a pending request's time left to its deadline,
by the database's clock, and marks it Overdue in words once it has passed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from shared.models import UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt
from tests.web.test_login import post_login

PRODUCT = 1234
SCREEN = f"/products/{PRODUCT}/uploads"
TABLE = f"/products/{PRODUCT}/uploads/table"


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def row_of(client: FlaskClient, path: str, upload_id: int) -> str:
    markup = client.get(path).get_data(as_text=True)
    found = re.search(rf'<tr data-upload-id="{upload_id}".*?</tr>', markup, re.S)
    assert found is not None, markup
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0)))


def test_a_pending_request_shows_the_minutes_left_to_its_deadline(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = queued_request(sessions, acme, txt(f"{PRODUCT}\tAAAA-0001"))
    for path in (SCREEN, TABLE):
        row = row_of(client, path, upload_id)
        # A 20-minute window, created a moment ago.
        assert re.search(r"\b(19|20) min left\b", row), row
        assert "Overdue" not in row


def test_a_pending_request_past_its_deadline_is_marked_overdue_in_words(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = queued_request(sessions, acme, txt(f"{PRODUCT}\tAAAA-0002"))
    with sessions.begin() as session:
        session.execute(
            update(UploadRequest)
            .where(UploadRequest.id == upload_id)
            .values(deadline_at=text("now() - interval '5 minutes'"))
        )
    for path in (SCREEN, TABLE):
        row = row_of(client, path, upload_id)
        assert "Overdue" in row and "min left" not in row, row


def test_a_decided_request_shows_neither_time_left_nor_overdue(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    upload_id = queued_request(sessions, acme, txt(f"{PRODUCT}\tAAAA-0003"))
    with sessions.begin() as session:
        session.execute(
            update(UploadRequest)
            .where(UploadRequest.id == upload_id)
            .values(
                status="rejected",
                reason_code="empty_file",
                reason="The file is empty.",
                finished_at=text("now()"),
                deadline_at=text("now() - interval '5 minutes'"),
            )
        )
    row = row_of(client, SCREEN, upload_id)
    assert "Overdue" not in row and "min left" not in row, row
