"""The download the Code Generator prepares for a TXT request
(shared.loading.prepared_download) is, byte for byte, the one the database writes
from the stored codes (shared.download.sorted_by_database), whichever way
the lines were read: runs of five fields, runs of two, mixed runs, lines
that the rule book took alone."""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import download, storage
from shared.models import UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import txt, upload, wait_decided

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT = 4321


@pytest.fixture
def globex(make_tenant: Any) -> Tenant:
    return make_tenant("globex", (PRODUCT,))


def five_fields(n: int) -> str:
    return f"{PRODUCT}\tFIVE-{n:07d}\t{n % 365 + 1}\t{n % 7}\t{n % 9 + 1}"


def two_fields(n: int) -> str:
    return f"{PRODUCT}\tTWO-{n:07d}"


def mixed(n: int) -> str:
    """Every shape a good line may take, empty fields included."""
    shapes = (
        f"{PRODUCT}\tMIX-{n}",
        f"{PRODUCT}\tMIX-{n}\t",
        f"{PRODUCT}\tMIX-{n}\t12",
        f"{PRODUCT}\tMIX-{n}\t\t0",
        f"{PRODUCT}\tMIX-{n}\t\t\t4",
        f"{PRODUCT}\tMIX-{n}\t3\t\t",
        f"{PRODUCT}\tMIX-{n}\t3\t0\t",
        f"{PRODUCT}\tMIX-{n}\t\t8\t2",
    )
    return shapes[n % len(shapes)]


def alone(n: int) -> str:
    """Lines the block path leaves to the rule book: beyond ASCII, leading zeros."""
    shapes = (f"{PRODUCT}\tÉTÉ-{n}€", f"{PRODUCT}\tZERO-{n}\t007\t0010", f"{PRODUCT}\tZ-{n}\t\t\t0001")
    return shapes[n % len(shapes)]


def decided_download(
    client: FlaskClient, tenant: Tenant, sessions: sessionmaker[Session], lines: list[str], **fields: str
) -> tuple[bytes, UploadRequest]:
    decided = wait_decided(client, tenant, upload(client, tenant, PRODUCT, txt(*lines), **fields).get_json()["id"])
    assert decided["status"] == "completed", decided
    response = client.get(f"/api/v1/uploads/{decided['id']}/codes.txt", headers=tenant.auth)
    assert response.status_code == 200
    # A codes file is never sniffed into a page, nor framed.
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    with sessions() as session:
        request = session.scalars(select(UploadRequest).where(UploadRequest.id == decided["id"])).one()
    from_the_codes_table = b"".join(download.sorted_by_database(sessions.kw["bind"], request.id))
    assert response.data == from_the_codes_table
    return response.data, request


def test_a_file_of_five_field_lines_is_its_own_download_and_is_not_stored_twice(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [five_fields(n) for n in range(40_000)]  # more than one chunk
    data, request = decided_download(client, globex, sessions, lines)
    assert data == txt(*lines)
    assert request.codes_blob_id == request.blob_id


@pytest.mark.parametrize("code_type", ["activation", "evaluation"])
def test_two_field_lines_get_the_default_expiry_of_their_code_type(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session], code_type: str
) -> None:
    lines = [two_fields(n) for n in range(40_000)]
    data, request = decided_download(client, globex, sessions, lines, code_type=code_type)
    default = 365 if code_type == "activation" else 30
    assert data == txt(*(f"{line}\t{default}" for line in lines))
    assert request.codes_blob_id not in (None, request.blob_id)


def test_every_kind_of_line_mixed_in_any_order_downloads_as_the_database_writes_it(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session]
) -> None:
    rng = random.Random(5)
    kinds = (five_fields, two_fields, mixed, alone)
    lines = [rng.choice(kinds)(n) for n in range(20_000)]  # codes unique: n differs
    # And runs of one kind, long enough to span a chunk.
    lines += [
        kind(n)
        for kind in kinds
        for n in range(20_000 + 10_000 * kinds.index(kind), 30_000 + 10_000 * kinds.index(kind))
    ]
    data, request = decided_download(client, globex, sessions, lines)
    assert data.count(b"\r\n") == len(lines)
    assert request.codes_blob_id not in (None, request.blob_id)


def test_a_request_without_a_prepared_download_is_sorted_by_the_database(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [two_fields(n) for n in range(100)]
    _, request = decided_download(client, globex, sessions, lines)
    with sessions.begin() as session:  # as for requests completed before downloads were prepared
        session.get(UploadRequest, request.id).codes_blob_id = None  # type: ignore[union-attr]
    response = client.get(f"/api/v1/uploads/{request.id}/codes.txt", headers=globex.auth)
    assert response.data == txt(*(f"{line}\t365" for line in lines))


def test_a_prepared_download_streams_a_chunk_at_a_time(
    client: FlaskClient, globex: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [two_fields(n) for n in range(60_000)]
    _, request = decided_download(client, globex, sessions, lines)
    pieces = list(download.codes_file(sessions.kw["bind"], request.id))
    assert len(pieces) > 1
    assert max(len(piece) for piece in pieces) <= storage.CHUNK_BYTES
