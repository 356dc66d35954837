"""The scale mode of the benchmark (bench/README.md#the-scale-mode) against
the schema and the API it measures: the requests it copies in SQL must leave
the rows the real path would, and a deep read must ask for the same place
whether the server pages by cursor or by page number."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint

from bench.fill import COPIED_WITH_A_REQUEST, NOT_COPIED
from bench.reads import Read, position_at, url
from shared.models import Base, UploadRequest


def test_a_copied_request_repeats_no_column_that_must_be_unique() -> None:
    table = UploadRequest.__table__
    unique = [{c.name for c in table.primary_key.columns}]
    unique += [{c.name for c in constraint.columns} for constraint in table.constraints
               if isinstance(constraint, UniqueConstraint)]  # fmt: skip
    unique += [{c.name for c in index.columns} for index in table.indexes if index.unique]
    unique += [{column.name} for column in table.columns if column.unique]
    assert all(columns & set(NOT_COPIED) for columns in unique), unique


def test_every_table_of_a_requests_own_rows_is_copied_with_it() -> None:
    pointing = {
        key.parent.table.name
        for table in Base.metadata.tables.values()
        for key in table.foreign_keys
        if key.column.table is UploadRequest.__table__ and key.parent.table is not UploadRequest.__table__
    }
    assert pointing == set(COPIED_WITH_A_REQUEST)


def test_a_deep_read_asks_by_cursor_or_by_the_page_that_starts_at_the_same_code() -> None:
    read = Read("codes API", "deep", "/api/v1/products/7/codes", {"status": "available"}, position_at(1_000_000, "K9"))
    assert url(read, cursors=True) == "/api/v1/products/7/codes?status=available&after=K9"
    assert url(read, cursors=False) == "/api/v1/products/7/codes?status=available&page=20001"


def test_a_deep_read_no_page_number_reaches_is_not_asked_of_a_server_without_cursors() -> None:
    read = Read("Code View", "deep", "/products/7/codes", position=position_at(12, "A B"))
    assert url(read, cursors=True) == "/products/7/codes?after=A+B"
    assert url(read, cursors=False) is None
