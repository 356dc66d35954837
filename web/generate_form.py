"""Each product's **Generate codes** tab (docs/product.md#generation-requests):
a form of the generation's fields, each problem shown beside its field, the
rules those of shared.generation.shape, which the API and the command line
apply too. static/generate.js shows an example of the format and its
strength as the fields change: made in the browser, never a stored code.

Every lookup goes through the logged-in publisher: another publisher's
product is a 404, exactly like a missing one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from shared.errors import InvalidFields
from shared.generation import shape
from shared.generation.shape import Generation
from shared.models import CODE_TYPES, Product
from shared.products import product_of
from web import upload_actions
from web.auth import current_publisher_id
from web.database import db
from web.product_forms import FormField

blueprint = Blueprint("generate_form", __name__)

FIELDS = {
    field.name: field
    for field in (
        FormField("quantity", "Quantity", f"How many codes to make, 1 to {shape.MAX_QUANTITY:,}.", True),
        FormField("code_type", "Code type", "Activation or evaluation codes.", False),
        FormField(
            "alphabet",
            "Alphabet",
            f"The characters of the random part: {shape.MIN_ALPHABET} to {shape.MAX_ALPHABET} different letters "
            "and digits. The default leaves out 0, 1, I and O, which read alike.",
            False,
        ),
        FormField(
            "length",
            "Length",
            f"Random characters in each code, {shape.MIN_LENGTH} to {shape.MAX_LENGTH}: at least "
            f"{shape.MIN_BITS} bits of randomness.",
            True,
        ),
        FormField(
            "group", "Group size", "Split the random part into groups of this many characters; 0: no groups.", True
        ),
        FormField("separator", "Separator", "Between the groups.", False),
        FormField("prefix", "Prefix", "Starts every code; it must start with the product's prefix.", False),
        FormField("suffix", "Suffix (optional)", "Ends every code: letters, digits, '-', '_' or '.'.", False),
    )
}
FORMAT_FIELDS = ("alphabet", "length", "group", "separator", "prefix", "suffix")
SEPARATORS = (("-", "Hyphen (-)"), ("_", "Underscore (_)"), (".", "Dot (.)"), ("", "None"))


@blueprint.get("/products/<int:product_id>/generate")
@login_required
def generate(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    return _page(product, _defaults(product), {})


@blueprint.post("/products/<int:product_id>/generate")
@login_required
def send(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    typed = {name: request.form.get(name, "").strip() for name in FIELDS}
    dry_run = request.form.get("dry_run") == "on"
    asked = _generation(product, typed, dry_run)
    try:
        made = upload_actions.generate(current_publisher_id(), product, asked, None)
    except InvalidFields as refused:
        return _page(product, typed | {"dry_run": "on" if dry_run else ""}, refused.problems), 400
    checked = ", checked only" if dry_run else ""
    flash(f"Generation {made.id} ({asked.quantity:,} codes{checked}) is queued.")
    return redirect(url_for("screens.upload_page", upload_id=made.id), 303)


def _defaults(product: Product) -> dict[str, str]:
    return {
        "quantity": "",
        "code_type": "activation",
        "alphabet": shape.DEFAULT_ALPHABET,
        "length": str(shape.DEFAULT_LENGTH),
        "group": str(shape.DEFAULT_GROUP),
        "separator": shape.DEFAULT_SEPARATOR,
        "prefix": product.prefix or "",
        "suffix": "",
        "dry_run": "",
    }


def _generation(product: Product, typed: Mapping[str, str], dry_run: bool) -> Generation:
    """The fields as the API would send them: a whole number where one is
    meant (anything else stays text, for the rule to refuse in its own words),
    and the product's prefix for an empty one."""
    values = {name: FIELDS[name].value_of(text) for name, text in typed.items()}
    made_format = {name: values[name] for name in FORMAT_FIELDS}
    made_format["separator"] = typed["separator"]  # empty is "none", not "not given"
    made_format["suffix"] = typed["suffix"]
    return Generation(
        quantity=values["quantity"],
        product_prefix=product.prefix,
        code_type=typed["code_type"],
        format=made_format,
        dry_run=dry_run,
    )


def _page(product: Product, typed: Mapping[str, str], problems: Mapping[str, str]) -> str:
    """The tab, with what was typed and each problem beside its field (a
    sentence that names it); a problem of the whole format goes above the form."""
    beside = {name.removeprefix("format."): problem for name, problem in problems.items()}
    form: dict[str, dict[str, Any]] = {
        name: {
            "field": field,
            "value": typed.get(name, ""),
            "problem": f"{field.called} {beside[name]}." if name in beside else None,
        }
        for name, field in FIELDS.items()
    }
    whole = beside.get("format")
    return render_template(
        "generate.html",
        product=product,
        items=list(form.values()),
        form=form,
        whole_format_problem=f"The format {whole}." if whole else None,
        dry_run=typed.get("dry_run") == "on",
        code_types=[(code_type, code_type.capitalize()) for code_type in CODE_TYPES],
        separators=SEPARATORS,
    )
