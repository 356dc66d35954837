"""Pages by cursor (docs/api.md#pages): following `next` visits every item
exactly once, in order, for every filter; totals come from the maintained
counts, or are counted up to 10,000 with a prefix; page numbers stop at 100
and every bad parameter is a 400 that names it. The codes are written
straight into the tables, as the Code Generator leaves them: these tests
are about reading them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.paging import COUNT_LIMIT
from tests.conftest import Tenant

PRODUCT, OTHER = 5101, 5102
STATUSES = ("available", "reserved", "distributed")


def store_codes(sessions: sessionmaker[Session], product_id: int, codes: list[str], request_id: int = 1) -> None:
    """Codes of one product, their statuses in turn, and their counts."""
    with sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO license_codes (code, product_id, request_id, line_no, code_type, expiry_days, status) "
                "SELECT code, :product, :request, line, 'activation', 365, (:statuses)[1 + (line - 1) % 3] "
                "FROM unnest(CAST(:codes AS text[])) WITH ORDINALITY AS c (code, line)"
            ),
            {"product": product_id, "request": request_id, "codes": codes, "statuses": list(STATUSES)},
        )
        session.execute(
            text(
                "INSERT INTO code_counts AS c (product_id, code_type, status, codes) "
                "SELECT product_id, code_type, status, count(*) FROM license_codes "
                "WHERE product_id = :product AND request_id = :request GROUP BY 1, 2, 3 "
                "ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = c.codes + EXCLUDED.codes"
            ),
            {"product": product_id, "request": request_id},
        )


def walk(client: FlaskClient, tenant: Tenant, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of a list, following `next`; and each page's body."""
    items, pages = [], []
    while url:
        response = client.get(url, headers=tenant.auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        pages.append(body)
        items += body["items"]
        url = body["next"]
        assert len(pages) < 1000
    return items, pages


@pytest.fixture
def tenant(make_tenant: Any, sessions: sessionmaker[Session]) -> Tenant:
    made: Tenant = make_tenant("Pager", (PRODUCT,))
    # Codes that sort around each other's, of every status.
    store_codes(sessions, PRODUCT, [f"{letter}{n:03d}" for letter in "ABC" for n in range(45)])
    return made


def test_following_next_visits_every_code_once_in_code_order_with_every_filter(
    client: FlaskClient, tenant: Tenant
) -> None:
    base = f"/api/v1/products/{PRODUCT}/codes?limit=7"
    everything, pages = walk(client, tenant, base)
    codes = [item["code"] for item in everything]
    assert codes == sorted(codes) and len(codes) == len(set(codes)) == 135
    assert all(page["total"] == 135 and page["total_is_exact"] for page in pages)
    assert pages[-1]["next"] is None and len(pages) == 20

    for status in STATUSES:
        items, pages = walk(client, tenant, f"{base}&status={status}")
        assert [i["code"] for i in items] == [i["code"] for i in everything if i["status"] == status]
        assert pages[0]["total"] == 45
    items, pages = walk(client, tenant, f"{base}&q=B0")
    assert [i["code"] for i in items] == [c for c in codes if c.startswith("B0")]
    assert pages[0]["total"] == 45 and pages[0]["total_is_exact"]
    items, _ = walk(client, tenant, f"{base}&q=A01&status=reserved")
    assert [i["code"] for i in items] == [
        i["code"] for i in everything if i["code"].startswith("A01") and i["status"] == "reserved"
    ]


def test_the_next_link_keeps_the_filters_and_the_size(client: FlaskClient, tenant: Tenant) -> None:
    body = client.get(f"/api/v1/products/{PRODUCT}/codes?status=reserved&q=A&limit=5", headers=tenant.auth).get_json()
    query = parse_qs(urlsplit(body["next"]).query)

    assert urlsplit(body["next"]).path == f"/api/v1/products/{PRODUCT}/codes"
    assert query == {"status": ["reserved"], "q": ["A"], "limit": ["5"], "after": [body["items"][-1]["code"]]}


def test_numbered_pages_still_read_the_first_pages(client: FlaskClient, tenant: Tenant) -> None:
    everything, _ = walk(client, tenant, f"/api/v1/products/{PRODUCT}/codes?limit=10")
    page_three = client.get(f"/api/v1/products/{PRODUCT}/codes?page=3&per_page=10", headers=tenant.auth).get_json()

    assert [i["code"] for i in page_three["items"]] == [i["code"] for i in everything[20:30]]
    assert page_three["next"].endswith(f"after={everything[29]['code']}")


def test_a_prefix_matching_more_than_the_count_limit_says_its_total_is_not_exact(
    client: FlaskClient, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    tenant = make_tenant("Many", (OTHER,))
    store_codes(sessions, OTHER, [f"M{n:06d}" for n in range(COUNT_LIMIT + 30)])

    prefixed = client.get(f"/api/v1/products/{OTHER}/codes?q=M", headers=tenant.auth).get_json()
    plain = client.get(f"/api/v1/products/{OTHER}/codes", headers=tenant.auth).get_json()
    few = client.get(f"/api/v1/products/{OTHER}/codes?q=M00001", headers=tenant.auth).get_json()

    assert (prefixed["total"], prefixed["total_is_exact"]) == (COUNT_LIMIT, False)
    assert (plain["total"], plain["total_is_exact"]) == (COUNT_LIMIT + 30, True)
    assert (few["total"], few["total_is_exact"]) == (10, True)


def test_the_requests_list_pages_newest_first_by_id(
    client: FlaskClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO upload_requests (publisher_id, product_id, format, sha256, size_bytes, deadline_at,"
                " status, reason_code) SELECT :publisher, :product, 'txt', repeat('a', 64), 10, now(),"
                " CASE WHEN n % 4 = 0 THEN 'rejected' ELSE 'completed' END,"
                " CASE WHEN n % 4 = 0 THEN 'format' END FROM generate_series(1, 23) n"
            ),
            {"publisher": tenant.publisher_id, "product": PRODUCT},
        )
    items, pages = walk(client, tenant, "/api/v1/uploads?limit=5")
    ids = [item["id"] for item in items]
    rejected, _ = walk(client, tenant, f"/api/v1/uploads?limit=2&status=rejected&product_id={PRODUCT}")

    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 23
    assert [page["total"] for page in pages] == [23] * 5
    assert [item["id"] for item in rejected] == [item["id"] for item in items if item["status"] == "rejected"]


CODES = f"/api/v1/products/{PRODUCT}/codes"


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        (CODES, "limit=0", "limit"),
        (CODES, "limit=10000", "limit"),
        (CODES, "limit=-1", "limit"),
        (CODES, "after=", "after"),
        (CODES, "after=A%00", "after"),
        (CODES, f"after={'A' * 129}", "after"),
        (CODES, "page=101", "after"),
        ("/api/v1/uploads", "after=abc", "after"),
        ("/api/v1/uploads", "after=0", "after"),
        ("/api/v1/uploads", "limit=501", "limit"),
    ],
)
def test_bad_paging_parameters_get_a_400_that_names_them(
    client: FlaskClient, tenant: Tenant, path: str, query: str, named: str
) -> None:
    response = client.get(f"{path}?{query}", headers=tenant.auth)

    assert response.status_code == 400
    assert named in response.get_json()["error"]["message"]


def login(client: FlaskClient, tenant: Tenant) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    client.post("/login", data={"email": tenant.email, "password": tenant.password, "csrf_token": token.group(1)})


def links(html: str) -> dict[str, str]:
    found = re.findall(r'<a rel="(prev|next)"[^>]*href="([^"]+)"', html)
    return {rel: href.replace("&amp;", "&") for rel, href in found}


def shown_codes(html: str) -> list[str]:
    return re.findall(r'<th scope="row" class="code"><code>([^<]+)</code>', html)


def test_the_code_view_goes_forward_and_back_by_cursor_and_shows_the_counts(
    client: FlaskClient, tenant: Tenant
) -> None:
    login(client, tenant)
    everything, _ = walk(client, tenant, f"/api/v1/products/{PRODUCT}/codes?limit=500")
    codes = [item["code"] for item in everything]

    first = client.get(f"/products/{PRODUCT}/codes").get_data(as_text=True)
    assert shown_codes(first) == codes[:50]
    assert "prev" not in links(first)
    assert re.search(r"Available: <strong>45</strong>", first) and "of 135 codes" in first

    second = client.get(links(first)["next"]).get_data(as_text=True)
    assert shown_codes(second) == codes[50:100]
    back = client.get(links(second)["prev"]).get_data(as_text=True)
    assert shown_codes(back) == codes[:50]
    assert "prev" not in links(back)

    jumped = client.get(f"/products/{PRODUCT}/codes?from=B010").get_data(as_text=True)
    assert shown_codes(jumped)[0] == "B010"


def test_the_code_view_refuses_a_bad_cursor_with_a_400_page(client: FlaskClient, tenant: Tenant) -> None:
    login(client, tenant)

    response = client.get(f"/products/{PRODUCT}/codes?after={'A' * 200}")

    assert response.status_code == 400
    assert "after must be a code" in response.get_data(as_text=True).lower()
