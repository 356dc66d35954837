"""A completed request's codes counted by status, and which requests have
codes to revoke (the request page and its revoke)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.errors import Conflict
from shared.pool.batches import codes_by_status, revoke_request, why_not_revocable
from shared.uploads import upload_of
from tests.pipeline.conftest import queued_request, txt
from tests.pool.conftest import move, stock_pool, take


def test_a_requests_codes_are_counted_by_status_and_another_requests_are_not(
    client: FlaskClient, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    stock_pool(sessions, 1, 5, request_id=7)
    stock_pool(sessions, 1, 4, request_id=8)
    take(client, acme, 1, reference="o-1", quantity=2)
    cart = take(client, acme, 1, reference="c-1", mode="reserve").get_json()["id"]
    gone = take(client, acme, 1, reference="o-2").get_json()["id"]
    move(client, acme, gone, "revoke")
    with sessions() as session:
        assert codes_by_status(session, 7) == {"available": 1, "reserved": 1, "distributed": 2, "revoked": 1}
        assert codes_by_status(session, 8) == {"available": 4, "reserved": 0, "distributed": 0, "revoked": 0}
        assert codes_by_status(session, 9) == {"available": 0, "reserved": 0, "distributed": 0, "revoked": 0}
    move(client, acme, cart, "release")
    with sessions() as session:
        assert codes_by_status(session, 7)["available"] == 2


def test_only_a_completed_upload_that_was_not_a_dry_run_has_codes_to_revoke(
    sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    acme = make_tenant("acme", (1,))
    request_id = queued_request(sessions, acme, txt("1\tA-1"))
    with sessions.begin() as session:
        request = upload_of(session, acme.publisher_id, request_id)
        assert why_not_revocable(request) == (
            f"upload {request_id} is queued; only the codes of a completed upload can be revoked"
        )
        session.execute(text("UPDATE upload_requests SET status = 'completed', dry_run = true"))
        session.refresh(request)
        assert why_not_revocable(request) == (
            f"dry run {request_id} is completed; only the codes of a completed upload can be revoked"
        )
        try:
            revoke_request(session, acme.publisher_id, request_id)
        except Conflict as refusal:
            assert str(refusal) == why_not_revocable(request)
        else:
            raise AssertionError("a dry run's codes were revoked")
        session.execute(text("UPDATE upload_requests SET dry_run = false"))
        session.refresh(request)
        assert why_not_revocable(request) is None
