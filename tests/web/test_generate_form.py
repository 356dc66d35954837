"""Each product's Generate codes tab (docs/product.md#generation-requests),
logged in with CSRF protection on: the fields labelled and explained, with
the defaults of a format; a good form queues a generation request and
shows its page; each refused value named beside its field, with what was
typed kept and nothing queued; another publisher's product a 404."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from tests.conftest import Tenant
from tests.web.test_login import FormFields, csrf_token, post_login

PRODUCT = 6001
GOOD = {
    "quantity": "250",
    "code_type": "activation",
    "alphabet": "23456789ABCDEFGHJKLMNPQRSTUVWXYZ",
    "length": "20",
    "group": "5",
    "separator": "-",
    "prefix": "",
    "suffix": "",
}


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def send(client: FlaskClient, product_id: int = PRODUCT, **changes: str) -> TestResponse:
    token = csrf_token(client.get(f"/products/{product_id}/generate"))
    return client.post(f"/products/{product_id}/generate", data={"csrf_token": token, **GOOD, **changes})


def generations(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT kind, status, dry_run, generation FROM upload_requests WHERE kind = 'generation' ORDER BY id")
        )
        return [tuple(row) for row in rows]


def test_the_tab_explains_every_field_and_starts_from_the_default_format(client: FlaskClient, acme: Tenant) -> None:
    page = client.get(f"/products/{PRODUCT}/generate").get_data(as_text=True)
    form = FormFields(page)
    for name in ("quantity", "alphabet", "length", "group", "prefix", "suffix"):
        assert form.labels[name].strip() and f'id="{name}-hint"' in page, name
    assert form.inputs["alphabet"]["value"] == GOOD["alphabet"] and form.inputs["length"]["value"] == "20"
    assert '<option value="-" selected>' in page and 'id="code_type"' in page
    assert "it is not one of your codes" in page and "generate.js" in page
    assert f'href="/products/{PRODUCT}/generate" aria-current="page">Generate codes' in page
    assert f'href="/products/{PRODUCT}/generate">Generate codes' in client.get(f"/products/{PRODUCT}/uploads").get_data(
        as_text=True
    )


def test_a_good_form_queues_a_generation_and_shows_its_request(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    sent = send(client, quantity="1000", length="24", group="6", separator="", suffix="-X", dry_run="on")
    assert sent.status_code == 303
    [(kind, status, dry_run, generation)] = generations(sessions)
    assert (kind, status, dry_run, generation["quantity"]) == ("generation", "queued", True, 1000)
    assert (generation["format"]["length"], generation["format"]["group"], generation["format"]["separator"]) == (
        24, 6, "",
    )  # fmt: skip
    assert generation["format"]["suffix"] == "-X"
    request_page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "is queued" in request_page


def test_each_refused_value_is_named_beside_its_field_and_nothing_is_queued(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    refused = send(client, quantity="0", alphabet="AAB", suffix="no spaces")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert 'id="quantity-error"' in page and "Quantity must be a whole number from 1 to 2,000,000" in page
    assert 'id="alphabet-error"' in page and 'id="suffix-error"' in page
    assert FormFields(page).inputs["suffix"]["value"] == "no spaces"  # what was typed, kept
    weak = send(client, length="7").get_data(as_text=True)
    assert 'id="length-error"' in weak and "bits" in weak and "a length of at least" in weak
    assert generations(sessions) == []


def test_another_publishers_product_is_not_found_and_gets_no_request(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    make_tenant("globex", (7001,))
    assert client.get("/products/7001/generate").status_code == 404
    token = csrf_token(client.get(f"/products/{PRODUCT}/generate"))
    assert client.post("/products/7001/generate", data={"csrf_token": token, **GOOD}).status_code == 404
    assert client.post(f"/products/{PRODUCT}/generate", data=GOOD).status_code == 400  # no CSRF token
    assert generations(sessions) == []
