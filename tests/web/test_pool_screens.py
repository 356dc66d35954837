"""The code pool's screens (docs/product.md#screens), in-process, logged in
with CSRF protection on: the products page's stock per type, the Stock and
Allocations tabs, the moves and the hand-out form (each bad field named
beside it), a completed request's codes by status and the revoke of what
is left of it behind a page that asks first, the Code View's references.
Codes are put in the pool as a completed request leaves them
(tests/pool/conftest.py); no worker runs."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from tests.conftest import Tenant
from tests.pipeline.conftest import assert_counts_are_exact, queued_request, txt
from tests.pool.conftest import assert_no_code_twice, stock_pool
from tests.web.test_login import csrf_token, post_login

PRODUCT = 1234
STOCK = f"/products/{PRODUCT}/stock"
ALLOCATIONS = f"/products/{PRODUCT}/allocations"


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    """A publisher with product 1234, logged in."""
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def words(markup: str) -> str:
    """A page's text as a reader reads it: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def markup_of(response: TestResponse, status: int = 200) -> str:
    assert response.status_code == status, words(response.get_data(as_text=True))[:2000]
    return response.get_data(as_text=True)


def by_id(markup: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', markup, re.S)
    assert found, element_id
    return words(found.group(2))


def rows(markup: str) -> dict[int, tuple[str, str]]:
    """The allocations listed, by id: (status, the row's text)."""
    found = re.findall(r'<tr data-allocation-id="(\d+)" data-status="(\w+)">(.*?)</tr>', markup, re.S)
    return {int(allocation_id): (status, words(row)) for allocation_id, status, row in found}


def actions_of(markup: str, allocation_id: int) -> list[str]:
    """The moves offered for an allocation: the paths its forms post to."""
    row = re.search(rf'<tr data-allocation-id="{allocation_id}".*?</tr>', markup, re.S)
    assert row, allocation_id
    return re.findall(r'<form method="post" action="([^"]+)"', row.group(0))


def flashed(client: FlaskClient, path: str) -> str:
    markup = markup_of(client.get(path))
    return " ".join(words(m) for m in re.findall(r'<p class="notice[^"]*"[^>]*>(.*?)</p>', markup, re.S))


def hand_out(client: FlaskClient, **fields: str) -> TestResponse:
    """Send the hand-out form as a browser does, its blanks as the page shows them."""
    blank = {"quantity": "1", "code_type": "activation", "mode": "distribute", "reservation_minutes": "30"}
    data = {"csrf_token": csrf_token(client.get(ALLOCATIONS)), "reference": "", **blank, **fields}
    return client.post(ALLOCATIONS, data=data)


def handed_out(client: FlaskClient, **fields: str) -> int:
    """Hand codes out through the form; the id of the allocation made."""
    response = hand_out(client, **fields)
    assert response.status_code == 303, words(response.get_data(as_text=True))[:2000]
    listed = rows(markup_of(client.get(response.location)))
    assert len(listed) == 1, listed
    return next(iter(listed))


def move(client: FlaskClient, allocation_id: int, verb: str) -> TestResponse:
    token = csrf_token(client.get(ALLOCATIONS))
    return client.post(f"/allocations/{allocation_id}/{verb}", data={"csrf_token": token})


def completed_request(sessions: sessionmaker[Session], tenant: Tenant, n: int) -> tuple[int, list[str]]:
    """A completed upload of `n` codes in the pool of the tenant's product, as the Code Generator leaves one."""
    request_id = queued_request(sessions, tenant, txt("stand-in"))
    with sessions.begin() as session:
        session.execute(
            text(
                "UPDATE upload_requests SET status = 'completed', code_count = :n, finished_at = now() WHERE id = :id"
            ),
            {"n": n, "id": request_id},
        )
    return request_id, stock_pool(sessions, tenant.product_ids[0], n, request_id=request_id)


def set_threshold(sessions: sessionmaker[Session], threshold: int) -> None:
    with sessions.begin() as session:
        session.execute(text("UPDATE products SET low_stock_threshold = :t"), {"t": threshold})


def test_both_tabs_render_for_the_owner_and_are_404_for_another_publisher_like_a_missing_product(
    client: FlaskClient, acme: Tenant, make_tenant: Any
) -> None:
    make_tenant("beta", (2020,))
    for path, heading in ((STOCK, "Stock"), (ALLOCATIONS, "Allocations")):
        markup = markup_of(client.get(path))
        assert re.search(rf"<h1>{heading} <span", markup)
        tabs = re.search(r'<nav class="tabs".*?</nav>', markup, re.S)
        assert tabs and 'aria-current="page"' in tabs.group(0)
        assert [words(a) for a in re.findall(r"<a [^>]*>(.*?)</a>", tabs.group(0))] == [
            "Upload codes", "Generate codes", "Code view", "Allocations", "Stock", "Settings",
        ]  # fmt: skip
        suffix = path.removeprefix(f"/products/{PRODUCT}")
        theirs, missing = client.get(f"/products/2020{suffix}"), client.get(f"/products/9999{suffix}")
        assert theirs.status_code == missing.status_code == 404
        assert words(markup_of(theirs, 404)).replace("2020", "N") == words(markup_of(missing, 404)).replace("9999", "N")
    token = csrf_token(client.get(ALLOCATIONS))
    assert client.post("/products/2020/allocations", data={"csrf_token": token, "reference": "x"}).status_code == 404


def test_the_products_page_shows_the_available_codes_of_each_type_held_and_marks_the_low_ones(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    def cell() -> str:
        row = re.search(r'<th scope="row">acme 1234</th>(.*?)</tr>', markup_of(client.get("/products")), re.S)
        assert row
        return words(re.findall(r'<td class="num">(.*?)</td>', row.group(1), re.S)[0])

    assert cell() == "0"  # no codes of any type: no mark
    stock_pool(sessions, PRODUCT, 5)
    assert cell() == "Activation 5 Low stock of activation codes of acme 1234"  # below the default 100
    stock_pool(sessions, PRODUCT, 2, request_id=2, code_type="evaluation")
    set_threshold(sessions, 3)
    assert cell() == "Activation 5 Evaluation 2 Low stock of evaluation codes of acme 1234"
    assert f'href="{STOCK}"' in markup_of(client.get("/products"))


def test_the_stock_tab_shows_counts_by_status_and_type_the_rate_days_left_and_backorders(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 10)
    set_threshold(sessions, 5)
    handed_out(client, reference="order-1", quantity="2")
    reserved = handed_out(client, reference="cart-1", quantity="3", mode="reserve")
    move(client, reserved, "revoke")
    handed_out(client, reference="later-1", quantity="9", code_type="evaluation", backorder="true")
    markup = markup_of(client.get(STOCK))

    def row(name: str) -> str:
        found = re.search(rf'<th scope="row">{name}</th>(.*?)</tr>', markup, re.S)
        assert found, name
        return words(found.group(1))

    assert by_id(markup, "threshold") == "5"
    assert row("Available") == "5 0 Low stock"  # 5 is not below 5; evaluation codes are waited for
    assert (row("Reserved"), row("Distributed"), row("Revoked")) == ("0 0", "2 0", "3 0")
    assert row("Waiting for backorders") == "0 9 (1 backorder)"
    assert row("Handed out in the last 7 days") == "2 0"
    assert row("Days left at that rate") == "17.5 —"  # 5 available / (2 in 7 days)
    handed_out(client, reference="order-2")
    markup = markup_of(client.get(STOCK))
    assert row("Available") == "4 Low stock 0 Low stock"


def test_the_stock_tab_charts_30_days_of_hand_outs_with_the_numbers_in_a_table(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 10)
    handed_out(client, reference="order-1", quantity="3")
    with sessions.begin() as session:
        session.execute(
            text(
                "INSERT INTO hand_out_days (product_id, code_type, day, codes) VALUES "
                "(:p, 'activation', CAST(now() AT TIME ZONE 'UTC' AS date) - 2, 6), "
                "(:p, 'evaluation', CAST(now() AT TIME ZONE 'UTC' AS date) - 2, 1), "
                "(:p, 'activation', CAST(now() AT TIME ZONE 'UTC' AS date) - 40, 99)"
            ),
            {"p": PRODUCT},
        )
    markup = markup_of(client.get(STOCK))
    assert len(re.findall(r'<rect class="bar-track"', markup)) == 30
    heights = [int(h) for h in re.findall(r'<rect class="bar-handed-out"[^>]*height="(\d+)"', markup)]
    assert heights == [160, 69]  # the busiest day (7) fills the chart; today's 3 in proportion
    summary = by_id(markup, "chart-summary")
    assert summary.startswith("10 codes handed out from") and "at most 7 on one day" in summary
    table = re.search(r"<caption>Codes handed out per day.*?</table>", markup, re.S)
    assert table
    numbers = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', table.group(0))]
    assert len(numbers) == 30 and numbers[-1] == 3 and numbers[-3] == 7 and sum(numbers) == 10
    assert 'role="img" aria-labelledby="chart-summary"' in markup


def test_codes_handed_out_by_hand_are_listed_with_their_reference_and_replayed_by_it(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    codes = stock_pool(sessions, PRODUCT, 10)
    response = hand_out(client, reference="order-1", quantity="2")
    assert (response.status_code, response.location) == (303, f"{ALLOCATIONS}?reference=order-1")
    assert "Allocation 1 (order-1): 2 activation codes distributed." in flashed(client, response.location)
    markup = markup_of(client.get(response.location))
    (status, row), *_ = rows(markup).values()
    assert status == "distributed" and codes[0] in row and codes[1] in row and "order-1" in row
    assert actions_of(markup, 1) == ["/allocations/1/revoke"]

    again = hand_out(client, reference="order-1", quantity="2")
    assert again.status_code == 303
    assert "was made before for this reference" in flashed(client, again.location)
    conflict = hand_out(client, reference="order-1", quantity="3")
    markup = markup_of(conflict, 409)
    assert by_id(markup, "reference-problem").startswith("The reference 'order-1' already names allocation 1")
    assert 'value="order-1"' in markup and 'value="3"' in markup  # kept as typed
    assert_counts_are_exact(sessions)


def test_every_bad_field_of_the_hand_out_form_is_named_beside_it_and_nothing_is_taken(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 3)
    cases = [
        ({"reference": ""}, "reference", "Reference must be 1 to 200 printable characters, not ''."),
        ({"reference": " order-1"}, "reference", "Reference must not start or end with whitespace."),
        ({"reference": "x" * 201}, "reference", "Reference must be 1 to 200 printable characters"),
        ({"quantity": "two"}, "quantity", "Quantity must be a whole number, not 'two'."),
        ({"quantity": ""}, "quantity", "Quantity is required."),
        ({"quantity": "0"}, "quantity", "Quantity must be 1 to 1000, not 0."),
        ({"quantity": "1" * 30}, "quantity", "Quantity must be a whole number of at most 18 digits."),
        ({"code_type": "lifetime"}, "code_type", "Code type must be one of activation, evaluation, not 'lifetime'."),
        ({"mode": "lend"}, "mode", "Mode must be distribute or reserve, not 'lend'."),
        ({"mode": "reserve", "reservation_minutes": "0"}, "reservation_minutes",
         "Reservation minutes must be 1 to 10080, not 0."),
        ({"mode": "reserve", "reservation_minutes": "-5"}, "reservation_minutes",
         "Reservation minutes must be a whole number, not '-5'."),
    ]  # fmt: skip
    for fields, name, message in cases:
        markup = markup_of(hand_out(client, **({"reference": "order-1"} | fields)), 400)
        assert by_id(markup, f"{name}-problem").startswith(message), (fields, by_id(markup, f"{name}-problem"))
        field = re.search(rf'<(?:input|select|fieldset)[^>]*\bid="{name}"[^>]*>', markup)
        assert field and f'{name}-problem"' in field.group(0)
        assert (
            'aria-invalid="true"' in field.group(0) or name == "mode"
        )  # a fieldset is not invalid, its radios are not
        assert by_id(markup, "hand-out-problems").startswith("Nothing was handed out: 1 field below needs changing")
    both = markup_of(hand_out(client, reference="", quantity="many"), 400)
    assert "2 fields below need changing" in by_id(both, "hand-out-problems")
    # A distribution has no reservation: whatever its minutes field holds is not read.
    assert hand_out(client, reference="order-2", reservation_minutes="soon").status_code == 303
    assert list(rows(markup_of(client.get(ALLOCATIONS)))) == [1]


def test_too_few_codes_are_refused_beside_the_quantity_unless_backordered(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 2)
    markup = markup_of(hand_out(client, reference="order-1", quantity="3"), 409)
    assert by_id(markup, "quantity-problem") == "3 activation codes asked and 2 available, so nothing was taken."
    assert rows(markup) == {}  # the refused take's row is not listed: it was rolled back
    waiting = hand_out(client, reference="order-1", quantity="3", backorder="true")
    assert "waits for 3 activation codes" in flashed(client, waiting.location)
    markup = markup_of(client.get(waiting.location))
    ((allocation_id, (status, row)),) = rows(markup).items()
    assert status == "backordered" and "Waiting for codes" in row
    assert actions_of(markup, allocation_id) == [f"/allocations/{allocation_id}/release"]
    assert f"Cancel the backorder allocation {allocation_id} (order-1)" in words(markup)
    assert_counts_are_exact(sessions)


def test_a_reservation_is_distributed_released_or_revoked_from_its_row(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 10)
    first, second, third = (handed_out(client, reference=f"cart-{n}", mode="reserve") for n in range(3))
    markup = markup_of(client.get(ALLOCATIONS))
    assert actions_of(markup, first) == [f"/allocations/{first}/{verb}" for verb in ("distribute", "release", "revoke")]
    assert 'data-confirm="Revoke allocation 1 (cart-0)?' in markup

    response = move(client, first, "distribute")
    assert (response.status_code, response.location) == (303, f"{ALLOCATIONS}?reference=cart-0")
    assert "Allocation 1 (cart-0) is distributed: its codes are handed out for good." in flashed(client, ALLOCATIONS)
    move(client, second, "release")
    assert "is released: its codes, if it held any, are back in the pool" in flashed(client, ALLOCATIONS)
    move(client, third, "revoke")
    assert "Allocation 3 (cart-2) is revoked" in flashed(client, ALLOCATIONS)
    listed = rows(markup_of(client.get(ALLOCATIONS)))
    assert [listed[n][0] for n in (first, second, third)] == ["distributed", "released", "revoked"]

    refused = move(client, second, "distribute")
    assert refused.status_code == 303
    assert "Not done: Allocation 2 is released; only a reserved allocation can be distributed." in flashed(
        client, refused.location
    )
    assert move(client, first, "revoke").status_code == 303
    assert client.post(f"/allocations/{first}/revoke").status_code == 400  # no CSRF token
    assert_counts_are_exact(sessions)
    assert_no_code_twice(sessions)


def test_a_release_from_the_screen_fills_the_waiting_backorder_at_once(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    codes = stock_pool(sessions, PRODUCT, 2)
    cart = handed_out(client, reference="cart-1", quantity="2", mode="reserve")
    waiting = handed_out(client, reference="order-1", quantity="2", backorder="true")
    move(client, cart, "release")
    (status, row) = rows(markup_of(client.get(ALLOCATIONS, query_string={"reference": "order-1"})))[waiting]
    assert status == "distributed" and codes[0] in row and codes[1] in row


def test_another_publishers_allocation_is_a_404_like_a_missing_one_and_stays_as_it_was(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    beta: Tenant = make_tenant("beta", (2020,))
    stock_pool(sessions, 2020, 2)
    theirs = client.post("/api/v1/products/2020/allocations", json={"reference": "b-1", "mode": "reserve"},
                         headers=beta.auth).get_json()["id"]  # fmt: skip
    token = csrf_token(client.get(ALLOCATIONS))
    for verb in ("distribute", "release", "revoke"):
        assert client.post(f"/allocations/{theirs}/{verb}", data={"csrf_token": token}).status_code == 404
        assert client.post(f"/allocations/999/{verb}", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/api/v1/allocations/{theirs}", headers=beta.auth).get_json()["status"] == "reserved"


def test_allocations_are_listed_newest_first_20_a_page_and_found_by_reference_or_status(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    stock_pool(sessions, PRODUCT, 30)
    for n in range(23):
        client.post(f"/api/v1/products/{PRODUCT}/allocations", json={"reference": f"o-{n}", "mode": "reserve"},
                    headers=acme.auth)  # fmt: skip
    first = markup_of(client.get(ALLOCATIONS))
    assert list(rows(first)) == list(range(23, 3, -1))
    assert "Showing 1\N{EN DASH}20 of 23 allocations" in words(first)
    links = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', first))
    assert html.unescape(links["next"]) == f"{ALLOCATIONS}?after=4"
    second = markup_of(client.get(html.unescape(links["next"])))
    assert list(rows(second)) == [3, 2, 1]
    back = dict(re.findall(r'rel="(prev|next)"[^>]*href="([^"]+)"', second))["prev"]
    assert list(rows(markup_of(client.get(html.unescape(back))))) == list(range(23, 3, -1))

    assert list(rows(markup_of(client.get(ALLOCATIONS, query_string={"reference": " o-7 "})))) == [8]
    move(client, 8, "distribute")
    found = markup_of(client.get(ALLOCATIONS, query_string={"status": "distributed"}))
    assert list(rows(found)) == [8] and "distributed only" in words(found)
    assert "No allocation matches." in words(markup_of(client.get(ALLOCATIONS, query_string={"reference": "o-99"})))
    assert client.get(ALLOCATIONS, query_string={"status": "lost"}).status_code == 400
    assert client.get(ALLOCATIONS, query_string={"after": "x"}).status_code == 400


def test_an_allocation_of_many_codes_lists_the_first_few_and_the_rest_behind_more(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    codes = stock_pool(sessions, PRODUCT, 12)
    handed_out(client, reference="bulk-1", quantity="12")
    markup = markup_of(client.get(ALLOCATIONS))
    listed = re.findall(r"<li><code>([^<]+)</code></li>", markup)
    assert listed == codes
    assert "7 more codes of allocation 1 (bulk-1)" in words(markup)


def test_a_completed_request_shows_its_codes_by_status_and_revokes_the_rest_after_asking(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    request_id, _ = completed_request(sessions, acme, 6)
    handed_out(client, reference="order-1", quantity="2")
    handed_out(client, reference="cart-1", mode="reserve")
    page = markup_of(client.get(f"/uploads/{request_id}"))
    assert by_id(page, "code-statuses") == "Available: 3 · Reserved: 1 · Distributed: 2 · Revoked: 0"
    assert f'href="/uploads/{request_id}/revoke"' in page
    assert "code-statuses" not in markup_of(client.get(f"/uploads/{request_id}/fragment"))

    asking = markup_of(client.get(f"/uploads/{request_id}/revoke"))
    assert by_id(asking, "to-revoke").startswith("3 codes of this upload are still available")
    assert "Revoke 3 codes" in words(asking)
    assert f'href="/uploads/{request_id}"' in asking  # Cancel: back, nothing done
    assert by_id(markup_of(client.get(f"/uploads/{request_id}")), "code-statuses").startswith("Available: 3")

    assert client.post(f"/uploads/{request_id}/revoke").status_code == 400  # no CSRF token
    done = markup_of(client.post(f"/uploads/{request_id}/revoke", data={"csrf_token": csrf_token(client.get(STOCK))}))
    assert by_id(done, "revoked-count").startswith(f"3 codes of upload {request_id} were revoked")
    holders = re.search(r'<table>\s*<caption id="holders-caption">.*?</table>', done, re.S)
    assert holders and "Allocations holding its codes (2)" in words(done)
    assert [words(r) for r in re.findall(r"<tr>(.*?)</tr>", holders.group(0), re.S)[1:]] == [
        "1 order-1 Distributed", "2 cart-1 Reserved",
    ]  # fmt: skip
    assert f'href="{ALLOCATIONS}?reference=order-1"' in done
    after = by_id(markup_of(client.get(f"/uploads/{request_id}")), "code-statuses")
    assert after == "Available: 0 · Reserved: 1 · Distributed: 2 · Revoked: 3"
    assert_counts_are_exact(sessions)
    assert markup_of(client.get(STOCK)).count("Low stock") == 1  # activation: 0 available


def test_revoking_is_offered_only_for_a_completed_upload_and_refused_for_others(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], make_tenant: Any
) -> None:
    queued = queued_request(sessions, acme, txt("1234\tQ-1"))
    assert "Revoke the remaining codes" not in markup_of(client.get(f"/uploads/{queued}"))
    refused = client.get(f"/uploads/{queued}/revoke")
    assert refused.status_code == 409
    assert f"Upload {queued} is queued; only the codes of a completed upload can be revoked" in words(
        markup_of(refused, 409)
    )
    token = csrf_token(client.get(STOCK))
    assert client.post(f"/uploads/{queued}/revoke", data={"csrf_token": token}).status_code == 409
    beta: Tenant = make_tenant("beta", (2020,))
    theirs, _ = completed_request(sessions, beta, 2)
    assert client.get(f"/uploads/{theirs}/revoke").status_code == 404
    assert client.post(f"/uploads/{theirs}/revoke", data={"csrf_token": token}).status_code == 404
    with sessions() as session:
        assert session.execute(text("SELECT count(*) FROM license_codes WHERE status = 'revoked'")).scalar() == 0


def test_the_code_view_names_the_reference_holding_each_code(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    codes = stock_pool(sessions, PRODUCT, 3)
    handed_out(client, reference="<b>order</b>-1")
    markup = markup_of(client.get(f"/products/{PRODUCT}/codes"))
    assert "<b>order</b>" not in markup  # escaped
    header = re.findall(r'<th scope="col"[^>]*>([^<]*)</th>', markup)
    assert header[-1] == "Reference"
    cells = {
        words(code): words(reference)
        for code, reference in re.findall(
            r'<th scope="row" class="code">(.*?)</th>.*?<td class="reference">(.*?)</td>', markup, re.S
        )
    }
    assert cells == {codes[0]: "<b>order</b>-1", codes[1]: "—", codes[2]: "—"}
    options = re.findall(r'<option value="(\w+)"', markup)
    assert "revoked" in options
