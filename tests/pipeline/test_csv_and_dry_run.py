"""CSV import (LicenseSpring compatible), the dry run with confirm, and the
error report (docs/product.md#the-csv-format, #dry-run), decided by a real worker."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from shared.models import LicenseCode
from tests.conftest import Tenant
from tests.pipeline.conftest import queued_request, txt, upload, wait_decided

pytestmark = pytest.mark.usefixtures("workers")
LICENSESPRING_EXAMPLE = (
    "customer__email,order__store_id,license__license_key,product__short_code\n"
    "example1@email.com,pn7XXkuCRdsadasdy9S2XSsCYQ,impo-rtor-derk-ey00,acme-1234\n"
    "example1@email.com,pn7XXkuCRdsadasdy9S2XSsCYQ,impo-rtor-derk-ey01,acme-1234\n"
)


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (1234, 5678))  # short codes acme-1234, acme-5678


def import_csv(client: FlaskClient, tenant: Tenant, content: str | bytes, **fields: str) -> Any:
    data = content.encode() if isinstance(content, str) else content
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), "licenses.csv"), **fields})
    return client.post(
        "/api/v1/licenses/import_from_csv/",
        data=body,
        headers=tenant.auth,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def import_result(client: FlaskClient, tenant: Tenant, job_id: int) -> dict[str, Any]:
    wait_decided(client, tenant, job_id)
    response = client.get(f"/api/v1/licenses-import-results/{job_id}/", headers=tenant.auth)
    assert response.status_code == 200
    result: dict[str, Any] = response.get_json()
    return result


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, int, str, int, dict[str, Any] | None]]:
    with sessions() as session:
        rows = session.execute(
            select(
                LicenseCode.code,
                LicenseCode.product_id,
                LicenseCode.code_type,
                LicenseCode.expiry_days,
                LicenseCode.attributes,
            ).order_by(LicenseCode.line_no)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_licensespring_example_imports_and_reads_back_as_licensespring_does(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    response = import_csv(client, acme, LICENSESPRING_EXAMPLE)
    assert response.status_code == 200
    assert list(response.get_json()) == ["job_id"]
    job_id = response.get_json()["job_id"]

    result = import_result(client, acme, job_id)
    assert (result["id"], result["status"], result["file_name"]) == (job_id, "success", "licenses.csv")
    assert result["created_at"] and result["started_at"] and result["finished_at"]
    assert result["result"] == {
        "total_row_count": 2,
        "valid_row_count": 2,
        "invalid_rows": [],
        "created_licenses_count": 2,
        "existed_licenses_count": 0,
    }
    upload = client.get(f"/api/v1/uploads/{job_id}", headers=acme.auth).get_json()
    assert (upload["format"], upload["product_id"], upload["status"]) == ("csv", None, "completed")
    attributes = {"customer__email": "example1@email.com", "order__store_id": "pn7XXkuCRdsadasdy9S2XSsCYQ"}
    assert stored(sessions) == [
        ("impo-rtor-derk-ey00", 1234, "activation", 365, attributes),
        ("impo-rtor-derk-ey01", 1234, "activation", 365, attributes),
    ]


def test_one_csv_file_may_hold_codes_of_several_of_the_callers_products_and_downloads_with_each(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = (
        "license__license_key,product__short_code,license__is_trial,license__trial_days,license__valid_duration\n"
        "ONE,acme-1234,false,,90\n"
        "TWO,acme-5678,true,14,\n"
        'THREE,acme-5678,"TRUE",,\n'
    )
    job_id = import_csv(client, acme, content).get_json()["job_id"]
    assert import_result(client, acme, job_id)["status"] == "success"
    assert [row[:4] for row in stored(sessions)] == [
        ("ONE", 1234, "activation", 90),
        ("TWO", 5678, "evaluation", 14),
        ("THREE", 5678, "evaluation", 30),
    ]
    download = client.get(f"/api/v1/uploads/{job_id}/codes.txt", headers=acme.auth)
    assert download.data == txt("1234\tONE\t90", "5678\tTWO\t14", "5678\tTHREE\t30")


def test_quoted_commas_and_a_newline_inside_a_quoted_note_import_intact(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = (
        "license__license_key,product__short_code,license__note\r\n"
        'K-1,acme-1234,"a note, with a comma"\r\n'
        'K-2,acme-1234,"two\r\nlines"\r\n'
        'K-3,acme-1234,"she said ""hi"""\r\n'
    )
    job_id = import_csv(client, acme, content).get_json()["job_id"]
    assert import_result(client, acme, job_id)["status"] == "success"
    notes = [row[4]["license__note"] for row in stored(sessions)]  # type: ignore[index]
    assert notes == ["a note, with a comma", "two\r\nlines", 'she said "hi"']


@pytest.mark.parametrize(
    ("content", "reason_code", "line"),
    [
        ("license__license_key\nK-1\n", "format", 1),  # the product column is required
        ("license__license_key,product__short_code,favourite_colour\nK-1,acme-1234,blue\n", "format", 1),
        ("license__license_key,product__short_code\nK-1,someone-elses\n", "product_mismatch", 2),
        ("license__license_key,product__short_code,license__is_trial,license__trial_days\nK,acme-1234,true,61\n",
         "expiry_out_of_range", 2),
        ("license__license_key,product__short_code\nK-1,acme-1234\nK-2,acme-1234\nK-1,acme-1234\n",
         "duplicate_in_file", 4),
        (b"license__license_key,product__short_code\nK-\xff,acme-1234\n", "encoding", 2),
        ("license__license_key,product__short_code\n", "empty_file", 1),
        ("license__license_key,product__short_code,license__enabled\nK-1,acme-1234,perhaps\n", "format", 2),
        ("license__license_key,product__short_code,license__maintenance_period\nK-1,acme-1234,2023-02-30\n",
         "format", 2),
    ],
)  # fmt: skip
def test_each_csv_rejection_names_its_reason_and_line(
    client: FlaskClient,
    acme: Tenant,
    sessions: sessionmaker[Session],
    content: str | bytes,
    reason_code: str,
    line: int,
) -> None:
    job_id = import_csv(client, acme, content).get_json()["job_id"]
    result = import_result(client, acme, job_id)
    assert result["status"] == "error"
    assert result["result"]["created_licenses_count"] == 0
    first = result["result"]["invalid_rows"][0]
    assert (first["reason_code"], first["line"]) == (reason_code, line), first
    assert stored(sessions) == []


def test_a_key_already_on_the_server_rejects_the_import(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    other = make_tenant("other", (9999,))
    first = upload(client, other, 9999, txt("9999\tTAKEN")).get_json()
    assert wait_decided(client, other, first["id"])["status"] == "completed"
    job_id = import_csv(client, acme, "license__license_key,product__short_code\nFREE,acme-1234\nTAKEN,acme-1234\n")
    result = import_result(client, acme, job_id.get_json()["job_id"])
    assert result["status"] == "error"
    assert result["result"]["invalid_rows"][0]["reason_code"] == "duplicate_existing"
    assert (result["result"]["total_row_count"], result["result"]["valid_row_count"]) == (2, 1)
    assert [row[0] for row in stored(sessions)] == ["TAKEN"]


def test_the_product_upload_endpoint_takes_csv_told_by_content_for_that_product_only(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    good = upload(client, acme, 1234, b"license__license_key,product__short_code\nP-1,acme-1234\n").get_json()
    assert good["format"] == "csv"
    assert wait_decided(client, acme, good["id"])["status"] == "completed"
    other_product = b"license__license_key,product__short_code\nP-2,acme-1234\nP-3,acme-5678\n"
    refused = wait_decided(client, acme, upload(client, acme, 1234, other_product).get_json()["id"])
    assert (refused["status"], refused["reason_code"], refused["errors"][0]["line"]) == (
        "rejected",
        "product_mismatch",
        3,
    )
    assert [row[0] for row in stored(sessions)] == ["P-1"]


def test_import_from_csv_refuses_a_txt_file_at_once(client: FlaskClient, acme: Tenant) -> None:
    response = import_csv(client, acme, txt("1234\tCODE"))
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "not_csv")
    assert client.get("/api/v1/uploads", headers=acme.auth).get_json()["total"] == 0


def test_a_dry_run_checks_everything_stores_nothing_and_confirms_once(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = txt("1234\tDRY-1\t10\t3", "1234\tDRY-2", "1234\tDRY-3\t400\t\t2")
    dry = wait_decided(client, acme, upload(client, acme, 1234, content, dry_run="true").get_json()["id"])
    assert (dry["status"], dry["dry_run"], dry["code_count"]) == ("completed", True, 3)
    assert dry["summary"] == {
        "codes": 3,
        "by_code_type": {"activation": 3},
        "by_product": {"1234": 3},
        "expiry_days": {"min": 10, "max": 400},
        "with_build_no": 1,
        "with_seats": 1,
    }
    assert stored(sessions) == []
    refused = client.get(f"/api/v1/uploads/{dry['id']}/codes.txt", headers=acme.auth)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "dry_run")

    confirmed = client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=acme.auth)
    assert confirmed.status_code == 202
    real = confirmed.get_json()
    assert (real["dry_run"], real["sha256"], real["size_bytes"]) == (False, dry["sha256"], dry["size_bytes"])
    assert confirmed.headers["Location"] == f"/api/v1/uploads/{real['id']}"
    assert wait_decided(client, acme, real["id"])["status"] == "completed"
    assert [row[0] for row in stored(sessions)] == ["DRY-1", "DRY-2", "DRY-3"]

    again = client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=acme.auth)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "conflict")


def test_a_dry_run_rejects_as_a_real_run_would_and_cannot_be_confirmed(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    other = make_tenant("other", (9999,))
    assert wait_decided(client, other, upload(client, other, 9999, txt("9999\tOWNED")).get_json()["id"])
    dry = upload(client, acme, 1234, txt("1234\tNEW", "1234\tOWNED"), dry_run="true").get_json()
    decided = wait_decided(client, acme, dry["id"])
    assert (decided["status"], decided["reason_code"]) == ("rejected", "duplicate_existing")
    assert client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=acme.auth).status_code == 409
    assert client.post(f"/api/v1/uploads/{dry['id']}/confirm", headers=other.auth).status_code == 404
    real = wait_decided(client, acme, upload(client, acme, 1234, txt("1234\tREAL")).get_json()["id"])
    assert client.post(f"/api/v1/uploads/{real['id']}/confirm", headers=acme.auth).status_code == 409


def test_a_csv_dry_run_summarises_by_type_and_product(client: FlaskClient, acme: Tenant) -> None:
    content = (
        "license__license_key,product__short_code,license__is_trial,license__max_activations\n"
        "S-1,acme-1234,false,3\nS-2,acme-5678,true,\nS-3,acme-5678,false,\n"
    )
    dry = import_csv(client, acme, content, dry_run="true").get_json()
    decided = wait_decided(client, acme, dry["job_id"])
    assert decided["summary"] == {
        "codes": 3,
        "by_code_type": {"activation": 2, "evaluation": 1},
        "by_product": {"1234": 1, "5678": 2},
        "expiry_days": {"min": 30, "max": 365},
        "with_build_no": 0,
        "with_seats": 1,
    }
    assert import_result(client, acme, dry["job_id"])["result"]["created_licenses_count"] == 0


def test_the_error_report_lists_every_problem_beyond_the_first_hundred(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    lines = [f"1234\tbad code {n}" for n in range(250)]
    lines[10] = "1234\tGOOD"
    decided = wait_decided(client, acme, upload(client, acme, 1234, txt(*lines)).get_json()["id"])
    assert (decided["error_count"], len(decided["errors"])) == (249, 100)

    report = client.get(f"/api/v1/uploads/{decided['id']}/errors.csv", headers=acme.auth)
    assert report.status_code == 200
    assert report.headers["Content-Disposition"] == f'attachment; filename="errors-{decided["id"]}.csv"'
    rows = list(csv.reader(io.StringIO(report.data.decode("utf-8-sig"))))
    assert rows[0] == ["line", "reason_code", "message"]
    assert [int(row[0]) for row in rows[1:]] == [n for n in range(1, 251) if n != 11]
    assert rows[1][1:] == ["format", decided["errors"][0]["message"]]

    completed = wait_decided(client, acme, upload(client, acme, 1234, txt("1234\tFINE")).get_json()["id"])
    refused = client.get(f"/api/v1/uploads/{completed['id']}/errors.csv", headers=acme.auth)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "not_rejected")
    pending = queued_request(sessions, acme, txt("1234\tWAITING"))
    refused = client.get(f"/api/v1/uploads/{pending}/codes.txt", headers=acme.auth)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "not_completed")


def test_another_publishers_short_code_reads_exactly_like_one_that_does_not_exist(
    client: FlaskClient, acme: Tenant, make_tenant: Any
) -> None:
    make_tenant("other", (9999,))  # short code other-9999
    messages = []
    for short_code in ("other-9999", "nobody-0000"):
        job_id = import_csv(client, acme, f"license__license_key,product__short_code\nK-1,{short_code}\n")
        problem = import_result(client, acme, job_id.get_json()["job_id"])["result"]["invalid_rows"][0]
        assert problem["reason_code"] == "product_mismatch"
        messages.append(problem["message"].replace(short_code, "<short code>"))
    assert messages[0] == messages[1]
