"""A publisher's products: create one, change one, look them up. Every read
takes the caller's publisher: another publisher's product is not found,
exactly like one that does not exist. The rules of each field are in
shared.product_fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import add_unique
from shared.errors import AlreadyTaken, InvalidFields, NotFound
from shared.models import DEFAULT_LOW_STOCK_THRESHOLD, Product, Publisher
from shared.product_fields import (
    DEFAULT_ACTIVATION_EXPIRY_DAYS,
    DEFAULT_EVALUATION_EXPIRY_DAYS,
    Problems,
    change_problems,
    problems_of,
)

# What a product id or short code held already is, whoever holds it.
TAKEN = "is already taken on this server; choose another"


@dataclass(frozen=True)
class NewProduct:
    """A product to create, its values as received: problems() says what is
    wrong with each, whatever its type."""

    product_id: int
    short_code: str
    name: str
    prefix: str | None = None
    activation_expiry_days: int = DEFAULT_ACTIVATION_EXPIRY_DAYS
    evaluation_expiry_days: int = DEFAULT_EVALUATION_EXPIRY_DAYS
    low_stock_threshold: int = DEFAULT_LOW_STOCK_THRESHOLD

    def problems(self) -> Problems:
        return problems_of(asdict(self))


@dataclass(frozen=True)
class ProductChanges:
    """The fields a publisher changes on a product, and only those; a
    product id or short code among them is refused (they are fixed)."""

    values: Mapping[str, Any]

    def problems(self) -> Problems:
        return change_problems(self.values)


def create_product(session: Session, publisher: Publisher, new: NewProduct) -> Product:
    """InvalidFields for bad values; AlreadyTaken when the product id or the
    short code is held on the server, by anyone: the message never says by whom."""
    problems = new.problems()
    if problems:
        raise InvalidFields(problems)
    product = Product(publisher_id=publisher.id, **(asdict(new) | {"name": new.name.strip()}))
    add_unique(
        session,
        product,
        {
            "pk_products": AlreadyTaken("product_id", f"the product id {new.product_id} {TAKEN}"),
            "uq_products_short_code": AlreadyTaken("short_code", f"the short code {new.short_code!r} {TAKEN}"),
        },
    )
    return product


def change_product(session: Session, publisher_id: int, product_id: int, changes: ProductChanges) -> Product:
    """Change the product's fields. What its requests are checked by is kept
    with each request (shared.product_rules), so the change applies to those
    made from now on, and the codes already stored stay as they are.
    NotFound for another publisher's product; InvalidFields for bad values."""
    product = product_of(session, publisher_id, product_id)
    problems = changes.problems()
    if problems:
        raise InvalidFields(problems)
    for field, value in changes.values.items():
        setattr(product, field, value.strip() if field == "name" else value)
    session.flush()
    return product


def products_of(session: Session, publisher_id: int) -> Sequence[Product]:
    return session.scalars(
        select(Product).where(Product.publisher_id == publisher_id).order_by(Product.product_id)
    ).all()


def product_of(session: Session, publisher_id: int, product_id: int) -> Product:
    product = session.scalar(
        select(Product).where(Product.publisher_id == publisher_id, Product.product_id == product_id)
    )
    if product is None:
        raise NotFound(f"there is no product {product_id}")
    return product
