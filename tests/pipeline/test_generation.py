"""The Code Generator on generation requests (docs/product.md#generation-requests):
the quantity made, in its format, stored with lines 1..N and counted; a dry
run reports and stores nothing, and its confirmation makes the codes; a
code that collides (with the server, or within the request) is replaced,
never a rejection; the download and its SHA-256 as for an upload; the
backorders waiting are filled once the codes are stored."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.generation import randomness
from shared.generation.shape import DEFAULT_ALPHABET
from shared.models import LicenseCode
from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, txt, upload, wait_decided, with_prefix
from tests.web.test_login import post_login

PRODUCT = 7001
Task = Callable[[int], str]


@pytest.fixture
def acme(make_tenant: Any, sessions: sessionmaker[Session]) -> Tenant:
    return with_prefix(make_tenant, sessions, "acme", PRODUCT, "AC-")


def generate(client: FlaskClient, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/products/{PRODUCT}/generations", json=body, headers=tenant.auth)
    assert response.status_code == 202, response.get_json()
    made: dict[str, Any] = response.get_json()
    return made


def request_of(client: FlaskClient, tenant: Tenant, request_id: int) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/uploads/{request_id}", headers=tenant.auth).get_json()
    return body


def codes_of(sessions: sessionmaker[Session], request_id: int) -> list[LicenseCode]:
    with sessions() as session:
        return list(
            session.scalars(
                select(LicenseCode).where(LicenseCode.request_id == request_id).order_by(LicenseCode.line_no)
            )
        )


def test_a_generation_stores_its_quantity_in_its_format_with_lines_one_to_n(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], process_upload: Task
) -> None:
    made = generate(
        client, acme, quantity=3000, code_type="evaluation", build_no=7, format={"group": 4, "suffix": ".X"}
    )

    assert process_upload(made["id"]) == "completed"

    decided = request_of(client, acme, made["id"])
    assert (decided["status"], decided["code_count"], decided["kind"]) == ("completed", 3000, "generation")
    codes = codes_of(sessions, made["id"])
    assert [code.line_no for code in codes] == list(range(1, 3001))
    shape = re.compile(rf"AC-[{DEFAULT_ALPHABET}]{{4}}(-[{DEFAULT_ALPHABET}]{{4}}){{4}}\.X")
    assert all(shape.fullmatch(code.code) for code in codes)
    assert len({code.code for code in codes}) == 3000
    # The product's evaluation default (30 days) fills the expiry; the build as asked.
    assert {(c.code_type, c.expiry_days, c.build_no, c.seats, c.status) for c in codes} == {
        ("evaluation", 30, 7, None, "available")
    }
    assert_counts_are_exact(sessions)


@pytest.mark.parametrize(
    ("asked", "after"),
    [
        ({"expiry_days": 10, "seats": 2}, "\t10\t\t2"),
        ({}, "\t365"),
        ({"build_no": 0}, "\t365\t0"),
        ({"build_no": 7, "seats": 1, "code_type": "evaluation"}, "\t30\t7\t1"),
        ({"format": {"prefix": "AC-Été-"}}, "\t365"),  # a prefix beyond ASCII: the download is Windows-1252
    ],
)
def test_its_download_is_its_codes_in_line_order_with_their_sha256(
    client: FlaskClient,
    acme: Tenant,
    sessions: sessionmaker[Session],
    process_upload: Task,
    asked: dict[str, Any],
    after: str,
) -> None:
    """The SHA-256 taken as the codes are made (shared.loading.generated.DownloadHash)
    is the download's, byte for byte."""
    made = generate(client, acme, quantity=250_001 if not asked else 200, **asked)
    assert process_upload(made["id"]) == "completed"

    response = client.get(f"/api/v1/uploads/{made['id']}/codes.txt", headers=acme.auth)

    assert response.status_code == 200
    expected = txt(*(f"{PRODUCT}\t{code.code}{after}" for code in codes_of(sessions, made["id"])))
    assert response.data == expected
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(expected).hexdigest()
    assert request_of(client, acme, made["id"])["codes_sha256"] == hashlib.sha256(expected).hexdigest()


def test_a_dry_run_reports_an_example_and_stores_nothing_until_confirmed(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], process_upload: Task
) -> None:
    made = generate(client, acme, quantity=50, dry_run=True, format={"alphabet": "ABCDEFGH", "length": 14, "group": 0})

    assert process_upload(made["id"]) == "completed"

    report = request_of(client, acme, made["id"])["summary"]
    assert (report["codes"], report["bits"], report["by_code_type"]) == (50, 42.0, {"activation": 50})
    assert re.fullmatch(r"AC-[A-H]{14}", report["example"]), report
    assert report["format"]["alphabet"] == "ABCDEFGH"
    assert codes_of(sessions, made["id"]) == []
    assert client.get(f"/api/v1/uploads/{made['id']}/codes.txt", headers=acme.auth).status_code == 409

    confirmed = client.post(f"/api/v1/uploads/{made['id']}/confirm", headers=acme.auth)
    assert confirmed.status_code == 202
    real = confirmed.get_json()
    assert (real["kind"], real["dry_run"], real["generation"]) == ("generation", False, made["generation"])
    assert process_upload(real["id"]) == "completed"
    assert len(codes_of(sessions, real["id"])) == 50
    assert_counts_are_exact(sessions)


@pytest.fixture
def scripted_randomness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[list[str]], None]]:
    """Make the first draw of random characters in this process spell the
    given random parts (of the default alphabet, whose 32 characters take
    every byte value: byte b is character b mod 32); every later draw comes
    from the operating system, as always (shared.generation.randomness)."""
    script: list[bytes] = []

    def source(count: int) -> bytes:
        scripted = script.pop(0) if script else b""
        return scripted[:count] + os.urandom(count - len(scripted[:count]))

    def spell(parts: list[str]) -> None:
        script.append(bytes(DEFAULT_ALPHABET.index(char) for part in parts for char in part))

    monkeypatch.setattr(randomness, "random_bytes", source)
    yield spell


def grouped(part: str) -> str:
    return "AC-" + "-".join(part[i : i + 5] for i in range(0, 20, 5))


def test_codes_that_collide_with_the_server_or_each_other_are_replaced_not_rejected(
    client: FlaskClient,
    acme: Tenant,
    sessions: sessionmaker[Session],
    process_upload: Task,
    scripted_randomness: Callable[[list[str]], None],
) -> None:
    taken = ["A" * 20, "B" * 20]
    uploaded = upload(client, acme, PRODUCT, txt(*(f"{PRODUCT}\t{grouped(part)}" for part in taken))).get_json()
    assert process_upload(uploaded["id"]) == "completed"
    twice = "C" * 20
    scripted_randomness([taken[0], twice, taken[1], twice, "D" * 20])
    made = generate(client, acme, quantity=6)

    assert process_upload(made["id"]) == "completed"

    codes = codes_of(sessions, made["id"])
    assert [code.line_no for code in codes] == [1, 2, 3, 4, 5, 6]
    stored = [code.code for code in codes]
    assert len(set(stored)) == 6
    assert not {grouped(part) for part in taken} & set(stored)
    # Line 2 kept the code made twice, line 4 got a new one; line 5 its scripted code.
    assert (stored[1], stored[4]) == (grouped(twice), grouped("D" * 20))
    assert [code.code for code in codes_of(sessions, uploaded["id"])] == [grouped(part) for part in taken]
    download = client.get(f"/api/v1/uploads/{made['id']}/codes.txt", headers=acme.auth)
    assert request_of(client, acme, made["id"])["codes_sha256"] == hashlib.sha256(download.data).hexdigest()
    assert_counts_are_exact(sessions)


def test_a_completed_generation_fills_the_backorders_waiting(
    client: FlaskClient, acme: Tenant, process_upload: Task
) -> None:
    ask = {"reference": "order-1", "quantity": 3, "backorder": True}
    waiting = client.post(f"/api/v1/products/{PRODUCT}/allocations", json=ask, headers=acme.auth)
    assert (waiting.status_code, waiting.get_json()["status"]) == (202, "backordered")
    made = generate(client, acme, quantity=5)

    assert process_upload(made["id"]) == "completed"

    filled = client.get(f"/api/v1/allocations/{waiting.get_json()['id']}", headers=acme.auth).get_json()
    assert filled["status"] == "distributed"
    assert len(filled["codes"]) == 3


@pytest.mark.usefixtures("workers")
def test_the_workers_decide_a_generation_and_its_download_carries_its_checksum(
    client: FlaskClient, acme: Tenant
) -> None:
    made = generate(client, acme, quantity=40_000)

    decided = wait_decided(client, acme, made["id"])

    assert (decided["status"], decided["code_count"]) == ("completed", 40_000), decided
    response = client.get(f"/api/v1/uploads/{made['id']}/codes.txt", headers=acme.auth)
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest() == decided["codes_sha256"]
    assert response.data.count(b"\r\n") == 40_000


def test_the_screens_show_a_generation_by_its_kind_its_format_and_its_report(
    client: FlaskClient, acme: Tenant, process_upload: Task
) -> None:
    real = generate(client, acme, quantity=1200, format={"suffix": ".v2"})
    dry = generate(client, acme, quantity=30, dry_run=True)
    assert post_login(client, acme.email, acme.password).status_code == 302

    queued = client.get(f"/uploads/{real['id']}").get_data(as_text=True)
    assert 'id="kind">Generation<' in queued
    assert "AC-XXXXX-XXXXX-XXXXX-XXXXX.v2" in queued and "100.0 bits" in queued
    assert "1,200 codes generated" in queued and "Delete" in queued
    assert process_upload(real["id"]) == "completed" and process_upload(dry["id"]) == "completed"

    listed = client.get(f"/products/{PRODUCT}/uploads").get_data(as_text=True)
    assert listed.count('<span class="tag">Generated</span>') == 2
    report = request_of(client, acme, dry["id"])["summary"]
    assert f"codes like <code>{report['example']}</code>" in listed
    assert "Generate them to store the codes." in listed and ">Generate<span" in listed
    page = client.get(f"/uploads/{real['id']}").get_data(as_text=True)
    assert "Download the codes" in page and 'id="code-count">1,200<' in page
