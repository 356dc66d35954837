"""Server-rendered pages for logged-in publishers."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from web.product_forms import products_page

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("pages.products" if current_user.is_authenticated else "auth.login"))


@blueprint.get("/products")
@login_required
def products() -> ResponseReturnValue:
    return products_page()
