"""A publisher's products. Every read takes the caller's publisher: another
publisher's product is not found, exactly like one that does not exist."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import add_unique
from shared.errors import InvalidValue, NotFound
from shared.models import MAX_CODE_LENGTH, MAX_EVALUATION_EXPIRY_DAYS, Product, Publisher

SHORT_CODE_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_ACTIVATION_EXPIRY_DAYS = 365
DEFAULT_EVALUATION_EXPIRY_DAYS = 30


@dataclass(frozen=True)
class NewProduct:
    product_id: int
    short_code: str
    name: str
    prefix: str | None = None
    activation_expiry_days: int = DEFAULT_ACTIVATION_EXPIRY_DAYS
    evaluation_expiry_days: int = DEFAULT_EVALUATION_EXPIRY_DAYS

    def problems(self) -> list[str]:
        problems = []
        if self.product_id < 1 or self.product_id > 2**63 - 1:
            problems.append(f"the product id must be a positive whole number, not {self.product_id}")
        if not SHORT_CODE_SHAPE.fullmatch(self.short_code):
            problems.append(
                f"the short code {self.short_code!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if not self.name.strip() or len(self.name) > 200:
            problems.append("the product name must have 1 to 200 characters")
        if self.prefix is not None and (
            not self.prefix or len(self.prefix) >= MAX_CODE_LENGTH or not _is_code_start(self.prefix)
        ):
            problems.append(
                f"the prefix {self.prefix!r} must be shorter than {MAX_CODE_LENGTH} characters, without "
                "whitespace or control characters, starting with a letter or digit"
            )
        if self.activation_expiry_days < 1:
            problems.append(f"the activation expiry must be at least 1 day, not {self.activation_expiry_days}")
        if not 1 <= self.evaluation_expiry_days <= MAX_EVALUATION_EXPIRY_DAYS:
            problems.append(
                f"the evaluation expiry must be 1 to {MAX_EVALUATION_EXPIRY_DAYS} days, "
                f"not {self.evaluation_expiry_days}"
            )
        return problems


def _is_code_start(text: str) -> bool:
    return text[0].isalnum() and text.isprintable() and not any(c.isspace() for c in text)


def create_product(session: Session, publisher: Publisher, new: NewProduct) -> Product:
    problems = new.problems()
    if problems:
        raise InvalidValue("; ".join(problems))
    product = Product(publisher_id=publisher.id, **(new.__dict__ | {"name": new.name.strip()}))
    add_unique(
        session,
        product,
        {
            "pk_products": f"product id {new.product_id} is already taken",
            "uq_products_short_code": f"the short code {new.short_code!r} is already taken",
        },
    )
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
