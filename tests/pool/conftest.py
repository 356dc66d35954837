"""The pool's tests put codes in the pool as a completed request leaves
them: rows of the codes table in file order and their counts, in one
transaction. How codes arrive is the Code Generator's business (tested in
tests/pipeline); a few tests here upload for real, where the arrival
itself is what they test."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Tenant

_STORE = text("""
INSERT INTO license_codes (code, product_id, request_id, line_no, code_type, expiry_days)
SELECT :prefix || lpad(n::text, 7, '0'), :product_id, :request_id, n, :code_type, 30
FROM generate_series(1, :n) n
""")
_COUNT = text("""
INSERT INTO code_counts AS c (product_id, code_type, status, codes) VALUES (:product_id, :code_type, 'available', :n)
ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = c.codes + EXCLUDED.codes
""")


def stock_pool(
    sessions: sessionmaker[Session], product_id: int, n: int, *, request_id: int = 1, code_type: str = "activation"
) -> list[str]:
    """Put `n` codes of a request in the product's pool; return them in file order."""
    prefix = f"P{product_id}-{code_type[0].upper()}{request_id}-"
    with sessions.begin() as session:
        params = {"prefix": prefix, "product_id": product_id, "request_id": request_id, "code_type": code_type}
        session.execute(_STORE, params | {"n": n})
        session.execute(_COUNT, {"product_id": product_id, "code_type": code_type, "n": n})
    return [f"{prefix}{line:07d}" for line in range(1, n + 1)]


def take(client: FlaskClient, tenant: Tenant, product_id: int, **asked: Any) -> Any:
    return client.post(f"/api/v1/products/{product_id}/allocations", json=asked, headers=tenant.auth)


def codes_of(response: Any) -> list[str]:
    return [code["code"] for code in response.get_json()["codes"]]


def move(client: FlaskClient, tenant: Tenant, allocation_id: int, verb: str) -> Any:
    return client.post(f"/api/v1/allocations/{allocation_id}/{verb}", headers=tenant.auth)


def stock(client: FlaskClient, tenant: Tenant, product_id: int, code_type: str = "activation") -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/products/{product_id}/stock", headers=tenant.auth).get_json()
    return body[code_type]  # type: ignore[no-any-return]


def assert_no_code_twice(sessions: sessionmaker[Session]) -> None:
    """A code is held by at most one live allocation, and every code an
    allocation holds is in the status the allocation says."""
    with sessions() as session:
        wrong = session.execute(
            text("""
                SELECT count(*) FROM license_codes c JOIN allocations a ON a.id = c.allocation_id
                WHERE c.status <> a.status
            """)
        ).scalar_one()
        given_twice = session.execute(
            text("""
                SELECT count(*) FROM (
                    SELECT ac.code_id FROM allocation_codes ac JOIN allocations a ON a.id = ac.allocation_id
                    WHERE a.status IN ('reserved', 'distributed') GROUP BY ac.code_id HAVING count(*) > 1
                ) twice
            """)
        ).scalar_one()
    assert (wrong, given_twice) == (0, 0)
