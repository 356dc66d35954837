"""The rules of docs/product.md#concepts that hold whatever code writes the rows: they
live in PostgreSQL (constraints created by the migrations), so these tests
write plain SQL, past every Python check, and expect the database to refuse."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.models import LicenseCode, UploadRequest

UNIQUE_VIOLATION = "23505"
CHECK_VIOLATION = "23514"


def _insert(session: Session, table: str, **values: Any) -> Any:
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    return session.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING *"), values).one()


def _publisher(session: Session, name: str) -> int:
    return int(_insert(session, "publishers", name=name).id)


def _product_values(publisher_id: int, product_id: int, short_code: str, **overrides: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "publisher_id": publisher_id,
        "short_code": short_code,
        "name": f"Product {product_id}",
        "activation_expiry_days": 365,
        "evaluation_expiry_days": 30,
        **overrides,
    }


def _request_values(publisher_id: int, product_id: int | None, **overrides: Any) -> dict[str, Any]:
    return {
        "publisher_id": publisher_id,
        "product_id": product_id,
        "format": "txt",
        "sha256": "0123456789abcdef" * 4,
        "size_bytes": 42,
        "deadline_at": datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=20),
        **overrides,
    }


def _code_values(product_id: int, request_id: int, code: str, **overrides: Any) -> dict[str, Any]:
    return {
        "code": code,
        "product_id": product_id,
        "request_id": request_id,
        "line_no": 1,
        "code_type": "activation",
        "expiry_days": 365,
        **overrides,
    }


@dataclass(frozen=True)
class Tenant:
    publisher_id: int
    product_id: int
    request_id: int


@pytest.fixture
def two_tenants(sessions: sessionmaker[Session]) -> tuple[Tenant, Tenant]:
    """Two publishers, each with a product and a queued upload request."""
    tenants = []
    with sessions.begin() as session:
        for name, product_id in (("Alpha", 101), ("Beta", 202)):
            publisher_id = _publisher(session, name)
            _insert(session, "products", **_product_values(publisher_id, product_id, f"{name.lower()}-app"))
            request_id = _insert(session, "upload_requests", **_request_values(publisher_id, product_id)).id
            tenants.append(Tenant(publisher_id, product_id, request_id))
    return tenants[0], tenants[1]


def _refusal(sessions: sessionmaker[Session], table: str, values: dict[str, Any]) -> tuple[str, str]:
    """Insert one row that must be refused; return (SQLSTATE, constraint name)."""
    with sessions() as session:
        with pytest.raises(IntegrityError) as error:
            _insert(session, table, **values)
    original = error.value.orig
    return original.pgcode, original.diag.constraint_name  # type: ignore[union-attr]


def _accepted(sessions: sessionmaker[Session], table: str, values: dict[str, Any]) -> Any:
    with sessions.begin() as session:
        return _insert(session, table, **values)


def test_a_code_string_is_unique_on_the_whole_server(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, beta = two_tenants
    _accepted(sessions, "license_codes", _code_values(alpha.product_id, alpha.request_id, "ABC-123"))

    refusal = _refusal(sessions, "license_codes", _code_values(beta.product_id, beta.request_id, "ABC-123"))

    assert refusal == (UNIQUE_VIOLATION, "uq_license_codes_code")


def test_codes_differing_only_in_case_are_two_codes(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, beta = two_tenants
    _accepted(sessions, "license_codes", _code_values(alpha.product_id, alpha.request_id, "ABC"))
    _accepted(sessions, "license_codes", _code_values(beta.product_id, beta.request_id, "abc"))

    with sessions() as session:
        assert session.scalars(select(LicenseCode.code).order_by(LicenseCode.code)).all() == ["ABC", "abc"]
        assert session.scalars(select(LicenseCode.code).where(LicenseCode.code == "abc")).all() == ["abc"]


def test_a_duplicate_product_id_is_refused_by_the_database(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, beta = two_tenants

    refusal = _refusal(sessions, "products", _product_values(beta.publisher_id, alpha.product_id, "another-code"))

    assert refusal == (UNIQUE_VIOLATION, "pk_products")


def test_a_duplicate_short_code_is_refused_by_the_database(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    _, beta = two_tenants

    refusal = _refusal(sessions, "products", _product_values(beta.publisher_id, 303, "alpha-app"))

    assert refusal == (UNIQUE_VIOLATION, "uq_products_short_code")


def test_a_product_with_an_evaluation_expiry_above_60_days_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants
    _accepted(sessions, "products", _product_values(alpha.publisher_id, 303, "at-the-limit", evaluation_expiry_days=60))

    refusal = _refusal(
        sessions, "products", _product_values(alpha.publisher_id, 304, "past-the-limit", evaluation_expiry_days=61)
    )

    assert refusal == (CHECK_VIOLATION, "ck_products_evaluation_expiry_range")


def test_an_upload_request_status_outside_the_closed_set_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants

    refusal = _refusal(sessions, "upload_requests", _request_values(alpha.publisher_id, None, status="bogus"))

    assert refusal == (CHECK_VIOLATION, "ck_upload_requests_status_known")


def test_a_new_upload_request_is_queued_with_times_set_by_the_database(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants

    with sessions() as session:
        request = session.get_one(UploadRequest, alpha.request_id)
        database_now = session.scalar(select(text("now()")))

    assert request.status == "queued"
    assert request.code_type == "activation"
    assert (request.errors, request.error_count, request.attempts, request.dry_run) == ([], 0, 0, False)
    assert request.created_at.tzinfo is not None
    assert request.created_at <= database_now


def test_a_rejected_request_without_a_reason_code_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants
    rejected = _request_values(alpha.publisher_id, None, status="rejected", reason_code="format")
    _accepted(sessions, "upload_requests", rejected)

    refusal = _refusal(sessions, "upload_requests", _request_values(alpha.publisher_id, None, status="rejected"))

    assert refusal == (CHECK_VIOLATION, "ck_upload_requests_rejected_has_reason")


def test_only_a_rejected_request_has_a_reason_code(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants

    refusal = _refusal(
        sessions, "upload_requests", _request_values(alpha.publisher_id, None, status="completed", reason_code="format")
    )

    assert refusal == (CHECK_VIOLATION, "ck_upload_requests_rejected_has_reason")


def test_a_reason_code_outside_the_closed_set_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants

    refusal = _refusal(
        sessions, "upload_requests", _request_values(alpha.publisher_id, None, status="rejected", reason_code="bogus")
    )

    assert refusal == (CHECK_VIOLATION, "ck_upload_requests_reason_code_known")


def test_a_processing_request_without_a_claim_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants

    refusal = _refusal(sessions, "upload_requests", _request_values(alpha.publisher_id, None, status="processing"))

    assert refusal == (CHECK_VIOLATION, "ck_upload_requests_processing_has_claim")


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("format", "xml", "ck_upload_requests_format_known"),
        ("sha256", "0123456789ABCDEF" * 4, "ck_upload_requests_sha256_hex"),
        ("sha256", "0" * 63, "ck_upload_requests_sha256_hex"),
        ("size_bytes", 0, "ck_upload_requests_size_positive"),
    ],
)
def test_an_upload_request_with_a_value_out_of_shape_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant], column: str, value: object, constraint: str
) -> None:
    alpha, _ = two_tenants

    refusal = _refusal(sessions, "upload_requests", _request_values(alpha.publisher_id, None, **{column: value}))

    assert refusal == (CHECK_VIOLATION, constraint)


def test_an_evaluation_code_expiring_after_61_days_is_refused(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants
    _accepted(
        sessions,
        "license_codes",
        _code_values(alpha.product_id, alpha.request_id, "EVAL-60", line_no=1, code_type="evaluation", expiry_days=60),
    )

    refusal = _refusal(
        sessions,
        "license_codes",
        _code_values(alpha.product_id, alpha.request_id, "EVAL-61", line_no=2, code_type="evaluation", expiry_days=61),
    )

    assert refusal == (CHECK_VIOLATION, "ck_license_codes_expiry_range")


def test_an_activation_code_may_expire_after_61_days(
    sessions: sessionmaker[Session], two_tenants: tuple[Tenant, Tenant]
) -> None:
    alpha, _ = two_tenants
    values = _code_values(alpha.product_id, alpha.request_id, "ACT-61", expiry_days=61)

    row = _accepted(sessions, "license_codes", values)

    assert (row.code_type, row.expiry_days, row.status) == ("activation", 61, "available")
