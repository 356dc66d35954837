"""Uploads through the real API, decided by a real worker (docs/product.md:
the TXT format, processing, the REST API): what is stored, what is refused, and the download."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared import download
from shared.models import LicenseCode, UploadBlob, UploadRequest
from tests.conftest import Tenant
from tests.pipeline.conftest import WorkerProcesses, txt, upload, wait_decided

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT = 1234


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


def stored_codes(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(LicenseCode.code).order_by(LicenseCode.line_no)))


def test_a_good_file_is_stored_and_downloads_as_stored_with_the_expiry_filled_in(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = txt(
        "1234\tALPHA-1",
        "1234\tBETA-2\t7",
        "1234\tGAMMA-3\t\t42",
        "1234\tDELTA-4\t30\t5\t3",
        "1234\tÉPSILON\t\t\t",
    )
    response = upload(client, acme, PRODUCT, content, filename="batch.txt")
    assert response.status_code == 202
    created = response.get_json()
    assert response.headers["Location"] == f"/api/v1/uploads/{created['id']}"
    assert (created["status"], created["format"], created["filename"], created["size_bytes"]) == (
        "queued",
        "txt",
        "batch.txt",
        len(content),
    )
    assert created["deadline_at"] > created["created_at"]

    decided = wait_decided(client, acme, created["id"])
    assert (decided["status"], decided["code_count"], decided["errors"]) == ("completed", 5, [])
    assert stored_codes(sessions) == ["ALPHA-1", "BETA-2", "GAMMA-3", "DELTA-4", "ÉPSILON"]

    download = client.get(f"/api/v1/uploads/{created['id']}/codes.txt", headers=acme.auth)
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="codes-{created["id"]}.txt"'
    assert download.data == txt(
        "1234\tALPHA-1\t365",
        "1234\tBETA-2\t7",
        "1234\tGAMMA-3\t365\t42",
        "1234\tDELTA-4\t30\t5\t3",
        "1234\tÉPSILON\t365",
    )


def test_evaluation_codes_take_the_evaluation_default(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    response = upload(client, acme, PRODUCT, txt("1234\tEVAL-1", "1234\tEVAL-2\t60"), code_type="evaluation")
    decided = wait_decided(client, acme, response.get_json()["id"])
    assert decided["status"] == "completed"
    with sessions() as session:
        rows = session.execute(select(LicenseCode.code_type, LicenseCode.expiry_days).order_by(LicenseCode.line_no))
        assert [tuple(row) for row in rows] == [("evaluation", 30), ("evaluation", 60)]


def test_one_bad_line_among_999_good_ones_stores_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"1234\tGOOD-{n:04d}" for n in range(1, 1001)]
    lines[736] = "1234\tBAD CODE"
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])
    assert (decided["status"], decided["reason_code"], decided["error_count"]) == ("rejected", "format", 1)
    assert decided["reason"].startswith("line 737:")
    assert decided["errors"] == [{"line": 737, "reason_code": "format", "message": decided["reason"]}]
    assert decided["code_count"] is None
    assert stored_codes(sessions) == []


def test_a_code_twice_in_the_file_names_both_lines(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = txt("1234\tONE", "1234\tTWO", "1234\tONE", "1234\tTHREE", "1234\tTWO")
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, content).get_json()["id"])
    assert (decided["status"], decided["reason_code"], decided["error_count"]) == ("rejected", "duplicate_in_file", 2)
    assert [e["line"] for e in decided["errors"]] == [3, 5]
    assert "line 3" in decided["errors"][0]["message"] and "line 1" in decided["errors"][0]["message"]
    assert stored_codes(sessions) == []


def test_a_duplicate_is_reported_with_the_other_problems_of_the_file(client: FlaskClient, acme: Tenant) -> None:
    content = txt("1234\tONE", "9999\tTWO", "1234\tONE")
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, content).get_json()["id"])
    assert [(e["line"], e["reason_code"]) for e in decided["errors"]] == [
        (2, "product_mismatch"),
        (3, "duplicate_in_file"),
    ]


def test_a_code_already_on_the_server_rejects_without_naming_its_owner(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    other = make_tenant("other", (5678,))
    first = upload(client, other, 5678, txt("5678\tSHARED-CODE", "5678\tOTHER-ONLY")).get_json()
    assert wait_decided(client, other, first["id"])["status"] == "completed"

    second = upload(client, acme, PRODUCT, txt("1234\tMINE", "1234\tSHARED-CODE")).get_json()
    decided = wait_decided(client, acme, second["id"])
    assert (decided["status"], decided["reason_code"]) == ("rejected", "duplicate_existing")
    assert decided["errors"] == [
        {
            "line": 2,
            "reason_code": "duplicate_existing",
            "message": "line 2: the code 'SHARED-CODE' already exists on the server",
        }
    ]
    assert "other" not in decided["reason"].lower()
    assert stored_codes(sessions) == ["SHARED-CODE", "OTHER-ONLY"]


def test_more_than_100_problems_list_the_first_100_and_count_them_all(client: FlaskClient, acme: Tenant) -> None:
    content = txt(*[f"1234\tbad code {n}" for n in range(250)])
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, content).get_json()["id"])
    assert decided["error_count"] == 250
    assert [e["line"] for e in decided["errors"]] == list(range(1, 101))


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"code_type": "trial"}, 400, "invalid"),
        ({"code_type": ""}, 400, "invalid"),
        ({"code_type": " evaluation"}, 400, "invalid"),
        ({"dry_run": "maybe"}, 400, "invalid"),
    ],
)
def test_bad_form_fields_respond_400_and_queue_nothing(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], fields: dict[str, str], status: int, code: str
) -> None:
    response = upload(client, acme, PRODUCT, txt("1234\tX"), **fields)
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert_nothing_stored(sessions)


def test_an_empty_file_and_a_missing_file_respond_400(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    empty = upload(client, acme, PRODUCT, b"")
    assert (empty.status_code, empty.get_json()["error"]["code"]) == (400, "empty_file")
    missing = client.post(f"/api/v1/products/{PRODUCT}/uploads", data={"code_type": "activation"}, headers=acme.auth)
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (400, "no_file")
    not_multipart = client.post(f"/api/v1/products/{PRODUCT}/uploads", data=b"1234\tX\r\n", headers=acme.auth)
    assert not_multipart.status_code == 400
    assert_nothing_stored(sessions)


def test_an_unknown_or_foreign_product_responds_404(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    make_tenant("other", (5678,))
    for product_id in (5678, 999999):
        response = upload(client, acme, product_id, txt(f"{product_id}\tX"))
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] == f"there is no product {product_id}"
    assert_nothing_stored(sessions)


def assert_nothing_stored(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(UploadRequest)) == 0
        assert session.scalar(select(func.count()).select_from(UploadBlob)) == 0


def test_the_worker_is_really_separate(workers: WorkerProcesses) -> None:
    assert workers.worker.poll() is None and workers.pool_children()


def test_the_download_streams_in_bounded_pieces_in_file_order(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"1234\tSTREAM-{n:06d}\t{n % 60 + 1}" for n in range(12_000, 0, -1)]  # not in code order
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])
    assert decided["status"] == "completed"
    pieces = list(download.sorted_by_database(sessions.kw["bind"], decided["id"]))
    assert b"".join(pieces) == txt(*lines)
    assert len(pieces) >= len(txt(*lines)) // (download.BLOCK_BYTES + 100)
    # A block and at most one line more, before LF was widened to CR LF.
    assert max(len(piece) - piece.count(b"\r\n") for piece in pieces) < download.BLOCK_BYTES + 100


def test_codes_beyond_ascii_come_back_in_windows_1252_across_blocks(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"1234\tCAFÉ-€-{n:06d}-ÿ\t{n % 60 + 1}" for n in range(20_000)]  # several blocks
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])
    assert decided["status"] == "completed"
    pieces = list(download.sorted_by_database(sessions.kw["bind"], decided["id"]))
    assert len(pieces) > 1
    assert b"".join(pieces) == txt(*lines)


def test_a_character_split_between_two_blocks_is_converted_whole() -> None:
    text = "AB€\néÿC\n"
    encoded = text.encode()
    for cut in range(len(encoded) + 1):
        blocks = iter([encoded[:cut], encoded[cut:]])
        assert b"".join(download._windows_1252(blocks)) == text.replace("\n", "\r\n").encode("cp1252"), cut


def test_a_download_abandoned_half_way_stops_its_copy_and_frees_the_connection(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"1234\tHALF-{n:06d}" for n in range(30_000)]
    decided = wait_decided(client, acme, upload(client, acme, PRODUCT, txt(*lines)).get_json()["id"])
    engine = sessions.kw["bind"]
    before = engine.pool.checkedout()
    pieces = download.sorted_by_database(engine, decided["id"])
    assert next(pieces).startswith(b"1234\tHALF-000000\t365\r\n")
    pieces.close()  # the client went away
    assert engine.pool.checkedout() == before
    with sessions() as session:  # and nothing still runs a COPY on the server
        assert session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%'")) == 0
