"""Server-rendered pages for logged-in publishers."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from shared.code_counts import counts_of_products
from shared.pool.stock import stocks_of_products
from shared.products import products_of
from web.auth import current_publisher_id
from web.database import db

blueprint = Blueprint("pages", __name__)


@blueprint.get("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("pages.products" if current_user.is_authenticated else "auth.login"))


@blueprint.get("/products")
@login_required
def products() -> ResponseReturnValue:
    products = products_of(db(), current_publisher_id())
    counts = counts_of_products(db(), [product.product_id for product in products])
    stocks = stocks_of_products(db(), products)
    return render_template("products.html", products=products, counts=counts, stocks=stocks)
