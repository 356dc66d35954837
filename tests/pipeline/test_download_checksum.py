"""A codes download carries its SHA-256: in Repr-Digest (RFC 9530)
and X-Content-SHA256, on the API and the screen route alike, equal to the
hash of the body that follows and to the request's codes_sha256."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from shared.formats import CleanLines
from shared.loading.prepared_download import PreparedDownload
from shared.models import UploadRequest
from shared.storage import BlobWriter, read_chunks
from tests.conftest import Tenant
from tests.pipeline.conftest import txt, upload, wait_decided
from tests.web.test_login import post_login

PRODUCT = 4321


@pytest.fixture
def globex(make_tenant: Any) -> Tenant:
    return make_tenant("globex", (PRODUCT,))


def assert_carries_its_checksum(response: Any, codes_sha256: str) -> None:
    assert response.status_code == 200
    body_sha256 = hashlib.sha256(response.data).digest()
    assert response.headers["X-Content-SHA256"] == body_sha256.hex() == codes_sha256
    assert response.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(body_sha256).decode()}:"


def completed(client: FlaskClient, tenant: Tenant, content: bytes) -> dict[str, Any]:
    decided = wait_decided(client, tenant, upload(client, tenant, PRODUCT, content).get_json()["id"])
    assert decided["status"] == "completed", decided
    return decided


@pytest.mark.usefixtures("workers")
@pytest.mark.parametrize(
    "content",
    [
        txt(*(f"{PRODUCT}\tOWN-{n:06d}\t30\t1\t2" for n in range(30_000))),  # its own download
        txt(*(f"{PRODUCT}\tTWO-{n:06d}" for n in range(30_000)), f"{PRODUCT}\tÉTÉ-€"),  # rendered and stored
        (
            "license__license_key,product__short_code\n"
            + "".join(f"CSV-{n:06d}-é,globex-{PRODUCT}\n" for n in range(30_000, 0, -1))
        ).encode(),  # sorted by the database, beyond ASCII too
    ],
    ids=["txt-as-uploaded", "txt-rendered", "csv"],
)
def test_a_download_carries_the_sha256_of_its_body_on_both_routes(
    client: FlaskClient, globex: Tenant, content: bytes
) -> None:
    decided = completed(client, globex, content)
    assert decided["codes_sha256"] is not None  # known at completion, before any download
    assert_carries_its_checksum(
        client.get(f"/api/v1/uploads/{decided['id']}/codes.txt", headers=globex.auth), decided["codes_sha256"]
    )
    assert post_login(client, globex.email, globex.password).status_code == 302
    assert_carries_its_checksum(client.get(f"/uploads/{decided['id']}/codes.txt"), decided["codes_sha256"])


@pytest.mark.usefixtures("workers")
def test_a_request_completed_before_checksums_were_kept_gets_one_at_its_first_download(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session]
) -> None:
    decided = completed(client, globex, txt(*(f"{PRODUCT}\tOLD-{n}" for n in range(100))))
    with sessions.begin() as session:
        session.execute(update(UploadRequest).where(UploadRequest.id == decided["id"]).values(codes_sha256=None))
    response = client.get(f"/api/v1/uploads/{decided['id']}/codes.txt", headers=globex.auth)
    assert_carries_its_checksum(response, decided["codes_sha256"])
    with sessions() as session:
        assert session.get_one(UploadRequest, decided["id"]).codes_sha256 == decided["codes_sha256"]


def test_an_upload_is_its_own_download_only_when_its_bytes_hash_the_same(engine: Engine) -> None:
    """Lines of five fields alone do not make the upload its own download:
    the upload's SHA-256 must be the download's."""
    lines = b"".join(b"%d\tSAME-%d\t30\t1\t2\r\n" % (PRODUCT, n) for n in range(10))
    with engine.connect() as connection, connection.begin():
        writer = BlobWriter(Session(bind=connection))
        writer.write(lines)
        upload_blob = writer.finish().blob_id
        prepared = PreparedDownload(PRODUCT, 365)
        list(prepared.watch(iter([CleanLines(1, 10, lines)])))
        assert prepared.as_uploaded

        same = prepared.store(connection, upload_blob, hashlib.sha256(lines).hexdigest())
        assert (same.blob_id, same.sha256) == (upload_blob, hashlib.sha256(lines).hexdigest())

        different = prepared.store(connection, upload_blob, hashlib.sha256(b"\xef\xbb\xbf" + lines).hexdigest())
        assert different.blob_id != upload_blob
        assert b"".join(read_chunks(connection, different.blob_id)) == lines
        assert different.sha256 == hashlib.sha256(lines).hexdigest()
        prepared.close()
