"""The New product form of the products page and each product's Settings tab
(docs/product.md#screens), logged in with CSRF protection on: every field
labelled and explained, each refused value named beside its field with what
was typed kept, nothing stored from a refused form, another publisher's
product a 404 like a missing one."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from shared.models import Product
from shared.product_fields import CHANGEABLE, RULES
from tests.conftest import Tenant
from tests.web.test_login import FormFields, csrf_token, post_login

GOOD = {
    "product_id": "5001",
    "short_code": "acme-studio",
    "name": "Acme Studio",
    "prefix": "",
    "activation_expiry_days": "365",
    "evaluation_expiry_days": "30",
    "low_stock_threshold": "100",
}


@pytest.fixture
def acme(client: FlaskClient, make_tenant: Any) -> Tenant:
    tenant: Tenant = make_tenant("acme")
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return tenant


def send_new(client: FlaskClient, **changes: str) -> TestResponse:
    token = csrf_token(client.get("/products"))
    return client.post("/products", data={"csrf_token": token, **GOOD, **changes})


def send_settings(client: FlaskClient, product_id: int, values: dict[str, str]) -> TestResponse:
    token = csrf_token(client.get(f"/products/{product_id}/settings"))
    return client.post(f"/products/{product_id}/settings", data={"csrf_token": token, **values})


def products(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        query = select(
            Product.product_id,
            Product.name,
            Product.prefix,
            Product.evaluation_expiry_days,
            Product.low_stock_threshold,
        )
        return [tuple(row) for row in session.execute(query.order_by(Product.product_id))]


def assert_explained_form(page: str, names: tuple[str, ...]) -> FormFields:
    """Every field of a product's form labelled, with its hint, as a text field."""
    form = FormFields(page)
    for name in names:
        assert form.labels[name].strip(), name
        assert form.inputs[name]["type"] == "text"
        assert f'id="{name}-hint"' in page
        assert f"{name}-hint" in form.inputs[name]["aria-describedby"]
    return form


def test_the_products_page_offers_a_new_product_form_with_every_field_explained(
    client: FlaskClient, acme: Tenant
) -> None:
    page = client.get("/products").get_data(as_text=True)

    form = assert_explained_form(page, tuple(RULES))
    assert {name: form.inputs[name]["value"] for name in RULES if name != "product_id"} == {
        name: value for name, value in GOOD.items() if name != "product_id"
    } | {"short_code": "", "name": ""}
    assert form.inputs["csrf_token"]["value"]


def test_a_product_made_with_the_form_is_created_and_its_upload_screen_follows(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    response = send_new(client, prefix="AS-", evaluation_expiry_days="14", low_stock_threshold="0")

    assert response.status_code == 303
    assert response.location == "/products/5001/uploads"
    assert products(sessions) == [(5001, "Acme Studio", "AS-", 14, 0)]
    assert "Product 5001 (Acme Studio) is created" in client.get(response.location).get_data(as_text=True)
    assert "/products/5001/settings" in client.get("/products").get_data(as_text=True)


@pytest.mark.parametrize(
    ("field", "typed", "says"),
    [
        ("product_id", "12a", "Product ID must be a whole number from 1 to"),
        ("product_id", "", "Product ID must be a whole number from 1 to"),
        ("short_code", "has space", "Short code must be 1 to 64 letters"),
        ("name", "", "Name must have 1 to 200 characters"),
        ("prefix", "-P", "Prefix must be 1 to 127 characters"),
        ("activation_expiry_days", "0", "Activation expiry must be a whole number of days from 1 to"),
        ("evaluation_expiry_days", "61", "Evaluation expiry must be a whole number of days from 1 to 60, not 61."),
        ("low_stock_threshold", "-1", "Low-stock threshold must be a whole number from 0 to"),
    ],
)
def test_a_refused_value_is_named_beside_its_field_and_everything_typed_is_kept(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session], field: str, typed: str, says: str
) -> None:
    response = send_new(client, **{field: typed})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    form = FormFields(page)
    assert form.inputs[field]["aria-invalid"] == "true"
    assert form.inputs[field]["aria-describedby"].split() == [f"{field}-error", f"{field}-hint"]
    error = page.split(f'id="{field}-error">', 1)[1].split("</span>", 1)[0]
    assert error.startswith(says), error
    assert page.count('class="error"') == 1
    assert {name: form.inputs[name]["value"] for name in RULES} == GOOD | {field: typed}
    assert f'href="#{field}"' in page  # the summary above links to the field
    assert products(sessions) == []


def test_a_product_id_another_publisher_holds_is_refused_beside_it_naming_no_one(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    make_tenant("Secretive", (5001,))

    response = send_new(client)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Product ID is already taken on this server; choose another." in page
    assert "Secretive" not in page
    assert products(sessions) == [(5001, "Secretive 5001", None, 30, 100)]


def test_a_new_product_without_the_csrf_token_is_refused_and_nothing_is_created(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    response = client.post("/products", data=GOOD)

    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    assert products(sessions) == []


def test_the_settings_tab_shows_the_fields_with_the_id_and_short_code_read_only(
    client: FlaskClient, acme: Tenant
) -> None:
    send_new(client, prefix="AS-")

    page = client.get("/products/5001/settings").get_data(as_text=True)

    form = assert_explained_form(page, CHANGEABLE)
    assert "product_id" not in form.inputs and "short_code" not in form.inputs
    assert "<dd>5001</dd>" in page and "<code>acme-studio</code>" in page
    assert (form.inputs["name"]["value"], form.inputs["prefix"]["value"]) == ("Acme Studio", "AS-")
    assert 'href="/products/5001/settings" aria-current="page">Settings' in page
    assert 'href="/products/5001/settings">Settings' in client.get("/products/5001/uploads").get_data(as_text=True)


def test_saved_settings_change_the_product_and_say_when_they_apply(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    send_new(client, prefix="AS-")
    values = GOOD | {"name": "Acme Studio 2", "prefix": "", "evaluation_expiry_days": "45", "low_stock_threshold": "7"}

    # A product id and a short code slipped into the form are not read.
    response = send_settings(
        client, 5001, {name: values[name] for name in CHANGEABLE} | {"product_id": "6", "short_code": "x"}
    )

    assert response.status_code == 303
    assert products(sessions) == [(5001, "Acme Studio 2", None, 45, 7)]
    assert "apply to the uploads sent from now on" in client.get(response.location).get_data(as_text=True)


def test_refused_settings_are_named_beside_their_field_and_nothing_is_saved(
    client: FlaskClient, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    send_new(client)
    typed = {name: GOOD[name] for name in CHANGEABLE} | {"name": "Renamed", "evaluation_expiry_days": "sixty"}

    response = send_settings(client, 5001, typed)

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Evaluation expiry must be a whole number of days from 1 to 60, not &#39;sixty&#39;." in page
    assert FormFields(page).inputs["name"]["value"] == "Renamed"
    assert products(sessions) == [(5001, "Acme Studio", None, 30, 100)]


def test_another_publishers_settings_are_not_found_like_missing_ones_and_stay_unchanged(
    client: FlaskClient, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session]
) -> None:
    make_tenant("other", (6001,))
    token = csrf_token(client.get("/products"))

    for product_id in (6001, 6999):
        assert client.get(f"/products/{product_id}/settings").status_code == 404
        sent = client.post(f"/products/{product_id}/settings", data={"csrf_token": token, "name": "Mine"})
        assert sent.status_code == 404
    assert products(sessions) == [(6001, "other 6001", None, 30, 100)]
