"""What one run of the loader works on: the request, its products, and the
reader its format calls for, with the per-request maximum of codes applied
to what the reader yields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from shared.formats import CleanLines, CodeRecord, CsvRecord, Problem, ProblemRun
from shared.formats.csv import CsvProduct, CsvRules, read_csv_runs
from shared.formats.txt import TxtRules, read_txt_blocks
from shared.models import Product, UploadRequest

MAX_CODES_PER_REQUEST = 2_000_000

Item = CleanLines | CodeRecord | CsvRecord | Problem | ProblemRun


@dataclass(frozen=True)
class Job:
    request_id: int
    publisher_id: int
    format: str
    dry_run: bool
    code_type: str
    blob_id: int
    sha256: str  # of the uploaded bytes
    product: Product | None  # None: a CSV file for several of the publisher's products
    products: dict[str, CsvProduct]  # the publisher's, by short code (CSV)

    @property
    def default_expiry(self) -> int:
        assert self.product is not None
        if self.code_type == "evaluation":
            return self.product.evaluation_expiry_days
        return self.product.activation_expiry_days

    @property
    def parameters(self) -> dict[str, Any]:
        """The request's values as the staging SQL names them (shared.loading.staging)."""
        product_id = self.product.product_id if self.product else None
        return {
            "request_id": self.request_id,
            "publisher_id": self.publisher_id,
            "code_type": self.code_type,
            "product_id": product_id,
        }

    def read(self, chunks: Iterable[bytes]) -> Iterator[Item]:
        """The file's items, from the reader of its format."""
        if self.format == "txt":
            assert self.product is not None
            return read_txt_blocks(chunks, TxtRules(self.product.product_id, self.product.prefix, self.code_type))
        only = self.product.short_code if self.product else None
        return read_csv_runs(chunks, CsvRules(self.products, only_short_code=only))


def load_job(engine: Engine, request_id: int) -> Job:
    """The request and its publisher's products, read once before the work starts."""
    with engine.connect() as connection:
        request = connection.execute(select(UploadRequest).where(UploadRequest.id == request_id)).one()
        products = [
            Product(**row._asdict())
            for row in connection.execute(select(Product).where(Product.publisher_id == request.publisher_id))
        ]
    assert request.blob_id is not None, f"upload {request_id} has no stored bytes"
    product = next((p for p in products if p.product_id == request.product_id), None)
    by_short_code = {p.short_code: CsvProduct(p.product_id, p.prefix) for p in products}
    return Job(
        request.id,
        request.publisher_id,
        request.format,
        request.dry_run,
        request.code_type,
        request.blob_id,
        request.sha256,
        product,
        by_short_code,
    )


def bounded(items: Iterable[Item]) -> Iterator[Item]:
    """The items, stopped at the first code over the per-request maximum
    (docs/product.md#rejections, `too_many_codes`)."""
    count = 0
    for item in items:
        kind = type(item)
        if kind is not Problem and kind is not ProblemRun:
            added = item.line_count if kind is CleanLines else 1  # type: ignore[union-attr]
            if count + added > MAX_CODES_PER_REQUEST:
                line = item.first_line + MAX_CODES_PER_REQUEST - count if kind is CleanLines else item.line  # type: ignore[union-attr]
                yield Problem(
                    line,
                    "too_many_codes",
                    f"line {line}: the file holds more than {MAX_CODES_PER_REQUEST:,} codes, "
                    "the most one upload may hold; split it into several files",
                )
                return
            count += added
        yield item
