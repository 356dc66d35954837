"""The forms of a publisher's products (docs/product.md#screens): **New
product** on the products page and each product's **Settings** tab.

A form's fields arrive as text; this module only turns the text into the
values the API would send (a whole number where one is meant, nothing for
an empty field) and shows each problem beside its field. The rules are
shared.product_fields', the same the API and the command line apply. A
refused form is shown again with what was typed, with status 400.

Every lookup goes through the logged-in publisher: another publisher's
product is a 404, exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from shared.errors import AlreadyTaken, InvalidFields
from shared.models import DEFAULT_LOW_STOCK_THRESHOLD, Product, Publisher
from shared.paging import is_whole_number
from shared.pool.stock import stocks_of_products
from shared.product_fields import (
    CHANGEABLE,
    DEFAULT_ACTIVATION_EXPIRY_DAYS,
    DEFAULT_EVALUATION_EXPIRY_DAYS,
    RULES,
    Problems,
)
from shared.products import TAKEN, NewProduct, ProductChanges, change_product, create_product, product_of, products_of
from web.auth import current_publisher_id
from web.database import db

blueprint = Blueprint("product_forms", __name__)
# What the New product form starts with.
DEFAULTS = {
    "activation_expiry_days": str(DEFAULT_ACTIVATION_EXPIRY_DAYS),
    "evaluation_expiry_days": str(DEFAULT_EVALUATION_EXPIRY_DAYS),
    "low_stock_threshold": str(DEFAULT_LOW_STOCK_THRESHOLD),
}


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    hint: str
    numeric: bool

    @property
    def called(self) -> str:
        """The label as a sentence names the field: without "(days)" or "(optional)"."""
        return self.label.split(" (")[0]

    def value_of(self, text: str) -> Any:
        """What was typed, as the API would send it: an empty field is none,
        the digits of a number field are the number (anything else stays
        text, for the rule to refuse in its own words)."""
        if not text:
            return None
        if self.numeric and is_whole_number(text.removeprefix("-")):
            return int(text)
        return text


FIELDS = {
    field.name: field
    for field in (
        FormField(
            "product_id",
            "Product ID",
            "A whole number, unique on the server: the first column of every line of a TXT file. "
            "It cannot be changed later.",
            True,
        ),
        FormField(
            "short_code",
            "Short code",
            "1 to 64 letters, digits, '.', '_' or '-', unique on the server: CSV files name the product by it. "
            "It cannot be changed later.",
            False,
        ),
        FormField("name", "Name", "What people see, 1 to 200 characters.", False),
        FormField(
            "prefix",
            "Prefix (optional)",
            "When set, every uploaded code must already start with it; the server never adds it. Empty: no prefix.",
            False,
        ),
        FormField(
            "activation_expiry_days",
            "Activation expiry (days)",
            "Given to an activation code whose file leaves its expiry out. At least 1.",
            True,
        ),
        FormField(
            "evaluation_expiry_days",
            "Evaluation expiry (days)",
            "Given to an evaluation code whose file leaves its expiry out. 1 to 60.",
            True,
        ),
        FormField(
            "low_stock_threshold",
            "Low-stock threshold",
            "A code type with fewer available codes than this is marked low on stock. 0: never.",
            True,
        ),
    )
}
assert list(FIELDS) == list(RULES), "a form field for every field of a product, in the same order"


@blueprint.post("/products")
@login_required
def new_product() -> ResponseReturnValue:
    typed = _typed(RULES)
    publisher = db().get_one(Publisher, current_publisher_id())
    try:
        product = create_product(db(), publisher, NewProduct(**_values(typed)))
    except (InvalidFields, AlreadyTaken) as refused:
        return products_page(_form(RULES, typed, _problems(refused))), 400
    db().commit()
    flash(f"Product {product.product_id} ({product.name}) is created. Upload its codes here.")
    return redirect(url_for("screens.uploads", product_id=product.product_id), 303)


@blueprint.get("/products/<int:product_id>/settings")
@login_required
def settings(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    shown = {name: "" if getattr(product, name) is None else str(getattr(product, name)) for name in CHANGEABLE}
    return _settings_page(product, _form(CHANGEABLE, shown, {}))


@blueprint.post("/products/<int:product_id>/settings")
@login_required
def save_settings(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    typed = _typed(CHANGEABLE)
    try:
        change_product(db(), current_publisher_id(), product_id, ProductChanges(_values(typed)))
    except InvalidFields as refused:  # raised before anything was changed
        return _settings_page(product, _form(CHANGEABLE, typed, refused.problems)), 400
    db().commit()
    flash(f"The settings of {product.name} are saved. They apply to the uploads sent from now on.")
    return redirect(url_for("product_forms.settings", product_id=product_id), 303)


def products_page(form: list[dict[str, Any]] | None = None) -> str:
    """The products page (web.pages), with the New product form as typed, or empty."""
    products = products_of(db(), current_publisher_id())
    stocks = stocks_of_products(db(), products)
    form = form if form is not None else _form(RULES, DEFAULTS, {})
    return render_template("products.html", products=products, stocks=stocks, form=form)


def _settings_page(product: Product, form: list[dict[str, Any]]) -> str:
    return render_template("settings.html", product=product, form=form)


def _typed(names: Iterable[str]) -> dict[str, str]:
    """What was typed in each field, without the blanks at its ends."""
    return {name: request.form.get(name, "").strip() for name in names}


def _values(typed: Mapping[str, str]) -> dict[str, Any]:
    """The values as the API would send them (FormField.value_of)."""
    return {name: FIELDS[name].value_of(text) for name, text in typed.items()}


def _problems(refused: InvalidFields | AlreadyTaken) -> Problems:
    return refused.problems if isinstance(refused, InvalidFields) else {refused.field: TAKEN}


def _form(names: Iterable[str], typed: Mapping[str, str], problems: Problems) -> list[dict[str, Any]]:
    """The fields as the template shows them: label, hint, what to show in
    it, and the problem, a sentence that names the field."""
    return [
        {
            "field": FIELDS[name],
            "value": typed.get(name, ""),
            "problem": f"{FIELDS[name].called} {problems[name]}." if name in problems else None,
        }
        for name in names
    ]
