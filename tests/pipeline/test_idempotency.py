"""The Idempotency-Key header (web.idempotency): a retried POST returns the
request its first try created, never a second one, also when the tries race."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shared.models import UploadBlob, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import txt, wait_decided

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT, OTHER_PRODUCT = 1234, 1235


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT, OTHER_PRODUCT))


@pytest.fixture(autouse=True)
def settled(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Every request decided before the next test empties the tables under the worker."""
    yield
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sessions() as session:
            pending = session.scalar(
                select(func.count())
                .select_from(UploadRequest)
                .where(UploadRequest.status.in_(("queued", "processing")))
            )
        if not pending:
            return
        time.sleep(0.05)


def post(
    client: FlaskClient, tenant: Tenant, key: str | None, product_id: int = PRODUCT, code: str = "CODE-1", **fields: str
) -> Any:
    # Five fields: the worker's prepared download is the upload's own blob,
    # so the blobs counted are the uploads'.
    content = txt(f"{product_id}\t{code}\t30\t1\t1")
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content), "a.txt"), **fields})
    headers = {**tenant.auth, **({"Idempotency-Key": key} if key is not None else {})}
    return client.post(
        f"/api/v1/products/{product_id}/uploads",
        data=body,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        requests = session.scalar(select(func.count()).select_from(UploadRequest))
        blobs = session.scalar(select(func.count()).select_from(UploadBlob))
        return int(requests or 0), int(blobs or 0)


def test_a_retry_with_the_same_key_returns_the_first_request_and_stores_nothing_more(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    first = post(client, acme, "retry-1")
    again = post(client, acme, "retry-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert counts(sessions) == (1, 1)


def test_without_a_key_or_with_another_key_each_post_is_a_new_request(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    ids = {post(client, acme, key).get_json()["id"] for key in (None, None, "a", "b")}
    assert len(ids) == 4
    assert counts(sessions) == (4, 4)


def test_keys_are_per_publisher(client: FlaskClient, acme: Tenant, make_tenant: Any) -> None:
    other = make_tenant("other", (9876,))
    mine = post(client, acme, "shared-key").get_json()["id"]
    theirs = post(client, other, "shared-key", product_id=9876)
    assert theirs.status_code == 202 and theirs.get_json()["id"] != mine


@pytest.mark.parametrize(
    "different",
    [{"product_id": OTHER_PRODUCT}, {"code": "CODE-2"}, {"dry_run": "true"}, {"code_type": "evaluation"}],
    ids=["product", "file", "dry-run", "code-type"],
)
def test_a_key_reused_for_a_different_request_is_refused(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], different: dict[str, Any]
) -> None:
    first = post(client, acme, "one-key").get_json()["id"]
    reused = post(client, acme, "one-key", **different)
    assert reused.status_code == 409
    assert f"upload {first}" in reused.get_json()["error"]["message"]
    assert counts(sessions) == (1, 1)


def test_a_body_that_is_no_upload_gets_its_own_error_under_a_used_key(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    assert post(client, acme, "one-key").status_code == 202
    boundary, body = encode_multipart({"note": "no file here"})
    response = client.post(
        f"/api/v1/products/{PRODUCT}/uploads",
        data=body,
        headers={**acme.auth, "Idempotency-Key": "one-key"},
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "no_file"
    assert counts(sessions) == (1, 1)


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_refused_before_anything_is_stored(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], key: str
) -> None:
    response = post(client, acme, key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["error"]["message"]
    assert counts(sessions) == (0, 0)


def test_tries_racing_with_one_key_create_one_request_and_all_return_it(
    app: Flask, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    tries = 8
    start = threading.Barrier(tries)
    answers: list[Any] = [None] * tries

    def attempt(index: int) -> None:
        client = app.test_client()
        start.wait()
        answers[index] = post(client, acme, "raced")

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.get_json()["id"] for answer in answers}) == 1
    assert sum("Idempotent-Replayed" not in answer.headers for answer in answers) == 1
    assert counts(sessions) == (1, 1)  # the losers' stored bytes rolled back


def test_a_confirmation_retried_with_its_key_returns_the_same_real_request(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    dry = post(client, acme, None, dry_run="true").get_json()
    assert wait_decided(client, acme, dry["id"])["status"] == "completed"
    headers = {**acme.auth, "Idempotency-Key": "confirm-1"}
    first = client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=headers)
    again = client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    # Without the key, a second confirmation is the conflict it always was.
    assert client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=acme.auth).status_code == 409
