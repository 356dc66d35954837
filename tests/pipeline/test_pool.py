"""The code pool with the real Code Generator and beat: codes arriving by
upload fill backorders, the beat expires reservations, and a leaked batch
is revoked, also while takes race it."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, at_once, txt, upload, wait_decided
from tests.pool.conftest import assert_no_code_twice

REVOKE_TRIALS = 20


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (1,))
    return tenant


def _stored(client: FlaskClient, acme: Tenant, codes: list[str]) -> int:
    upload_id: int = upload(client, acme, 1, txt(*(f"1\t{code}" for code in codes))).get_json()["id"]
    assert wait_decided(client, acme, upload_id)["status"] == "completed"
    return upload_id


def _take(client: FlaskClient, acme: Tenant, **asked: Any) -> Any:
    return client.post("/api/v1/products/1/allocations", json=asked, headers=acme.auth)


def _until(check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_an_upload_that_completes_fills_the_waiting_backorders(
    workers: Any, client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    waiting = _take(client, acme, reference="order-1", quantity=2, backorder=True)
    assert waiting.status_code == 202
    allocation_id = waiting.get_json()["id"]
    _stored(client, acme, ["UP-0001", "UP-0002", "UP-0003"])

    def filled() -> Any:
        body = client.get(f"/api/v1/allocations/{allocation_id}", headers=acme.auth).get_json()
        return body if body["status"] == "distributed" else None

    body = _until(filled)
    assert body is not None, "the backorder was not filled"
    assert [code["code"] for code in body["codes"]] == ["UP-0001", "UP-0002"]
    assert_counts_are_exact(sessions)


def test_the_beat_expires_a_reservation_past_its_end_within_seconds(
    workers: Any, client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    _stored(client, acme, ["EX-0001"])
    allocation_id = _take(client, acme, reference="cart-1", mode="reserve", reservation_minutes=1).get_json()["id"]
    with sessions.begin() as session:
        session.execute(text("UPDATE allocations SET expires_at = now() WHERE id = :id"), {"id": allocation_id})
    began = time.monotonic()

    def expired() -> bool:
        body = client.get(f"/api/v1/allocations/{allocation_id}", headers=acme.auth).get_json()
        return bool(body["status"] == "expired")

    assert _until(expired), "the reservation did not expire"
    print(f"\nexpired by the beat {time.monotonic() - began:.1f} s after its end")
    stock = client.get("/api/v1/products/1/stock", headers=acme.auth).get_json()["activation"]
    assert (stock["available"], stock["reserved"]) == (1, 0)
    assert_counts_are_exact(sessions)


def test_revoking_a_leaked_batch_revokes_what_is_left_and_names_the_holders(
    workers: Any, client: FlaskClient, sessions: sessionmaker[Session], acme: Tenant, make_tenant: Any
) -> None:
    leaked = _stored(client, acme, [f"LK-{n:04d}" for n in range(5)])
    other = _stored(client, acme, ["OK-0001"])
    holder = _take(client, acme, reference="order-1", quantity=2).get_json()
    revoked = client.post(f"/api/v1/uploads/{leaked}/revoke", headers=acme.auth)
    assert revoked.status_code == 200
    assert revoked.get_json() == {
        "request_id": leaked,
        "revoked": 3,
        "allocations": [{"id": holder["id"], "reference": "order-1", "status": "distributed"}],
        "allocations_total": 1,
    }
    # The other batch is untouched, and the revoked codes never come back.
    assert [c["code"] for c in _take(client, acme, reference="order-2").get_json()["codes"]] == ["OK-0001"]
    assert _take(client, acme, reference="order-3").get_json()["error"]["code"] == "pool_empty"
    again = client.post(f"/api/v1/uploads/{leaked}/revoke", headers=acme.auth).get_json()
    assert again["revoked"] == 0 and again["allocations_total"] == 1
    stranger = make_tenant("stranger")
    assert client.post(f"/api/v1/uploads/{other}/revoke", headers=stranger.auth).status_code == 404
    rejected_id = upload(client, acme, 1, txt("1\tLK-0000")).get_json()["id"]
    assert wait_decided(client, acme, rejected_id)["status"] == "rejected"
    refused = client.post(f"/api/v1/uploads/{rejected_id}/revoke", headers=acme.auth)
    assert (
        refused.status_code == 409 and "only the codes of a completed upload" in refused.get_json()["error"]["message"]
    )
    assert_counts_are_exact(sessions)


def test_a_batch_revoke_racing_takes_leaves_every_code_revoked_or_in_one_allocation(
    workers: Any, client: FlaskClient, app: Flask, sessions: sessionmaker[Session], acme: Tenant
) -> None:
    codes_each = 30
    seen: Counter[str] = Counter()
    for trial in range(REVOKE_TRIALS):
        codes = [f"R{trial:03d}-{n:04d}" for n in range(codes_each)]
        upload_id = upload(client, acme, 1, txt(*(f"1\t{code}" for code in codes))).get_json()["id"]
        assert wait_decided(client, acme, upload_id)["status"] == "completed"
        clients = [app.test_client() for _ in range(5)]

        def revoke(client: FlaskClient = clients[0], upload_id: int = upload_id) -> Any:
            return client.post(f"/api/v1/uploads/{upload_id}/revoke", headers=acme.auth)

        def taker(client: FlaskClient, n: int, trial: int = trial) -> Any:
            return client.post(
                "/api/v1/products/1/allocations", json={"reference": f"r{trial}-{n}", "quantity": 3}, headers=acme.auth
            )

        results: list[Any] = at_once(revoke, *(lambda c=c, n=n: taker(c, n) for n, c in enumerate(clients[1:])))
        revoked = results[0].get_json()
        taken = [r.get_json() for r in results[1:] if r.status_code == 201]
        assert all(r.status_code in (201, 409) for r in results[1:])
        given = [code["code"] for allocation in taken for code in allocation["codes"]]
        assert revoked["revoked"] + len(given) == codes_each and set(given) <= set(codes)
        named = {holder["id"] for holder in revoked["allocations"]}
        assert named <= {allocation["id"] for allocation in taken}
        assert revoked["allocations_total"] == len(named)
        seen.update(taken=len(taken), named=len(named))
        with sessions() as session:
            left = session.execute(
                text("SELECT count(*) FROM license_codes WHERE request_id = :r AND status = 'available'"),
                {"r": upload_id},
            ).scalar_one()
        assert left == 0
    print(f"\n{REVOKE_TRIALS} batch revokes racing 4 takers each: {dict(seen)}")
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)
