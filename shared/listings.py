"""The long lists a publisher pages through: a product's codes, in code
order, and its requests, newest first. Each page is read from an index at
its first row, whatever the depth and whatever other publishers hold; no
page counts what the maintained counts already know
(docs/architecture.md#reads-at-scale).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from shared.code_counts import codes_counted
from shared.errors import InvalidValue
from shared.models import ALLOCATION_STATUSES, CODE_STATUSES, Allocation, LicenseCode, Product, UploadRequest
from shared.paging import COUNT_LIMIT, Listing, Window, listing_of
from shared.statuses import LISTED, RequestStatus

LISTED_STATES = tuple(status.value for status in LISTED)


def codes_of(
    session: Session, product: Product, window: Window[str], *, prefix: str | None = None, status: str | None = None
) -> Listing[LicenseCode, str]:
    """A page of a product's codes. The caller has already found the
    product through its publisher.

    The index is (product, status, code). With one status, a page is one
    range of it. With every status, each status is read as its own range,
    the first `limit` codes of each, and the page is the first `limit` of
    those together. One scan of the product's range of the index returns
    its codes in (status, code) order, not in code order: sorting them
    would read every code of the product for every page."""
    if status is not None and status not in CODE_STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(CODE_STATUSES)}, not {status!r}")
    if prefix is not None and "\x00" in prefix:
        # PostgreSQL text cannot hold NUL, so no code starts with one; psycopg2 would refuse the query.
        raise InvalidValue("q must not contain NUL characters")
    statuses = (status,) if status else CODE_STATUSES
    wanted = window.offset + window.limit + 1
    code = LicenseCode.code.desc() if window.backwards else LicenseCode.code
    branches = [
        select(LicenseCode).where(*_code_filters(product, one_status, prefix, window)).order_by(code).limit(wanted)
        for one_status in statuses
    ]
    if len(branches) == 1:
        query = branches[0].offset(window.offset).limit(window.limit + 1)
    else:
        merged = union_all(*branches).subquery()
        codes = aliased(LicenseCode, merged)
        query = (
            select(codes)
            .order_by(merged.c.code.desc() if window.backwards else merged.c.code)
            .offset(window.offset)
            .limit(window.limit + 1)
        )
    rows = session.scalars(query).all()
    if prefix:
        total, exact = _counted_up_to_limit(
            session,
            [
                select(literal(1)).where(*_code_filters(product, one_status, prefix, Window()))
                for one_status in statuses
            ],
        )
    else:
        total, exact = codes_counted(session, product.product_id, status), True
    return listing_of(rows, window, lambda row: row.code, total, exact)


def _code_filters(product: Product, status: str, prefix: str | None, window: Window[str]) -> list[Any]:
    filters = [LicenseCode.product_id == product.product_id, LicenseCode.status == status]
    if prefix:
        # LIKE 'prefix%' with the "C" collation is a range of the index.
        filters.append(LicenseCode.code.startswith(prefix, autoescape=True))
    if window.after is not None:
        filters.append(LicenseCode.code > window.after)
    if window.before is not None:
        filters.append(LicenseCode.code < window.before)
    if window.start is not None:
        filters.append(LicenseCode.code >= window.start)
    return filters


def uploads_of(
    session: Session,
    publisher_id: int,
    window: Window[int],
    *,
    product_id: int | None = None,
    status: str | None = None,
) -> Listing[UploadRequest, int]:
    """A page of the publisher's requests, newest first, with their total
    counted up to COUNT_LIMIT. Indexed by publisher or product, with or
    without the status, each newest first."""
    if status is not None and status not in LISTED_STATES:
        raise InvalidValue(f"status must be one of {', '.join(LISTED_STATES)}, not {status!r}")
    filters: list[Any] = [UploadRequest.publisher_id == publisher_id]
    if product_id is not None:
        filters.append(UploadRequest.product_id == product_id)
    filters.append(UploadRequest.status != RequestStatus.DELETED if status is None else UploadRequest.status == status)
    return _newest_first(session, UploadRequest, filters, window)


def allocations_of(
    session: Session,
    product: Product,
    window: Window[int],
    *,
    reference: str | None = None,
    status: str | None = None,
) -> Listing[Allocation, int]:
    """A page of a product's allocations, newest first, with their total
    counted up to COUNT_LIMIT; or the one with `reference`."""
    if status is not None and status not in ALLOCATION_STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(ALLOCATION_STATUSES)}, not {status!r}")
    filters: list[Any] = [Allocation.product_id == product.product_id]
    if reference is not None:
        filters.append(Allocation.reference == reference)
    if status is not None:
        filters.append(Allocation.status == status)
    return _newest_first(session, Allocation, filters, window)


Row = TypeVar("Row", UploadRequest, Allocation)


def _newest_first(session: Session, model: type[Row], filters: list[Any], window: Window[int]) -> Listing[Row, int]:
    """A page of the rows matching `filters`, by id, newest first, with
    their total counted up to COUNT_LIMIT; each list has an index of its
    filters and id, descending, so the page is one range of it."""
    bounds = list(filters)
    if window.after is not None:
        bounds.append(model.id < window.after)
    if window.before is not None:
        bounds.append(model.id > window.before)
    order = model.id if window.backwards else model.id.desc()
    rows = session.scalars(
        select(model).where(*bounds).order_by(order).offset(window.offset).limit(window.limit + 1)
    ).all()
    total, exact = _counted_up_to_limit(session, [select(literal(1)).where(*filters)])
    return listing_of(rows, window, lambda row: row.id, total, exact)


def _counted_up_to_limit(session: Session, queries: list[Any]) -> tuple[int, bool]:
    """The rows of these queries together, counted up to COUNT_LIMIT: (count,
    exact). The limit is on them together: the count stops at COUNT_LIMIT + 1
    rows, wherever they come from."""
    rows: Any = queries[0] if len(queries) == 1 else union_all(*queries)
    capped = select(rows.subquery()).limit(COUNT_LIMIT + 1).subquery()
    counted = session.scalar(select(func.count()).select_from(capped)) or 0
    return min(counted, COUNT_LIMIT), counted <= COUNT_LIMIT
