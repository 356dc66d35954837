"""The rules an upload request is checked by: the prefix and the expiry
defaults of the products it may name, as they were when the request was
made (docs/product.md#products).

A publisher may change a product while a request of it waits in the queue;
the Code Generator reads the request later. Kept with the request
(`upload_requests.product_rules`), the rules of its making stay the rules it
is checked by, and the change applies to the requests made after it. A
request made before they were kept has none: its products are read as they
are when it is processed, as they always were.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared.models import Product


@dataclass(frozen=True)
class ProductRules:
    product_id: int
    short_code: str
    prefix: str | None
    activation_expiry_days: int
    evaluation_expiry_days: int


_COLUMNS = (
    Product.product_id,
    Product.short_code,
    Product.prefix,
    Product.activation_expiry_days,
    Product.evaluation_expiry_days,
)


def rules_now(session: Session, publisher_id: int, product_id: int | None) -> list[dict[str, Any]]:
    """The rules to keep with a request made now, as JSON: its product's,
    or (product_id None: a CSV for any of them) every product's of the publisher.
    Read from the database, not from a Product the caller holds, which may
    predate a change committed meanwhile."""
    query = _of_publisher(publisher_id)
    if product_id is not None:
        query = query.where(Product.product_id == product_id)
    return [asdict(ProductRules(**row._asdict())) for row in session.execute(query)]


def rules_of(connection: Connection, publisher_id: int, kept: list[dict[str, Any]] | None) -> list[ProductRules]:
    """The rules a request is checked by: those kept with it, or, for a request
    made before they were kept, its publisher's products as they are."""
    if kept is not None:
        return [ProductRules(**rules) for rules in kept]
    return [ProductRules(**row._asdict()) for row in connection.execute(_of_publisher(publisher_id))]


def _of_publisher(publisher_id: int) -> Any:  # a Select, whose type parameters changed in SQLAlchemy 2.1
    return select(*_COLUMNS).where(Product.publisher_id == publisher_id).order_by(Product.product_id)
