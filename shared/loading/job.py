"""What one run of the loader works on: the request, its products' rules, and the
reader its format calls for, with the per-request maximum of codes applied
to what the reader yields."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, select

from shared.formats import CleanLines, CodeRecord, CsvRecord, Problem, ProblemRun
from shared.formats.csv import CsvProduct, CsvRules, read_csv_runs
from shared.formats.txt import TxtRules, read_txt_blocks
from shared.loading.generated import GenerationJob
from shared.models import UploadRequest
from shared.product_rules import ProductRules, rules_of

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
    product_id: int | None  # None: a CSV file for several of the publisher's products
    # The products it may name, with the prefixes and expiry defaults it was made with (shared.product_rules).
    rules: tuple[ProductRules, ...]

    @property
    def product(self) -> ProductRules | None:
        return next((rules for rules in self.rules if rules.product_id == self.product_id), None)

    @property
    def default_expiry(self) -> int:
        assert self.product is not None
        if self.code_type == "evaluation":
            return self.product.evaluation_expiry_days
        return self.product.activation_expiry_days

    @property
    def parameters(self) -> dict[str, Any]:
        """The request's values as the staging SQL names them (shared.loading.staging)."""
        return {
            "request_id": self.request_id,
            "publisher_id": self.publisher_id,
            "code_type": self.code_type,
            "product_id": self.product_id,
        }

    @property
    def rules_json(self) -> str:
        """The products' expiry defaults, for staging.REQUEST_PRODUCTS."""
        return json.dumps([asdict(rules) for rules in self.rules])

    def read(self, chunks: Iterable[bytes]) -> Iterator[Item]:
        """The file's items, from the reader of its format."""
        product = self.product
        if self.format == "txt":
            assert product is not None
            return read_txt_blocks(chunks, TxtRules(product.product_id, product.prefix, self.code_type))
        by_short_code = {rules.short_code: CsvProduct(rules.product_id, rules.prefix) for rules in self.rules}
        only = product.short_code if product else None
        return read_csv_runs(chunks, CsvRules(by_short_code, only_short_code=only))


def load_job(engine: Engine, request_id: int) -> Job | GenerationJob:
    """The request and the rules of its products, read once before the work
    starts: an upload's, or a generation's (docs/product.md#generation-requests)."""
    with engine.connect() as connection:
        request = connection.execute(select(UploadRequest).where(UploadRequest.id == request_id)).one()
        rules = rules_of(connection, request.publisher_id, request.product_rules)
    if request.kind == "generation":
        return GenerationJob.of(request, rules)
    assert request.format is not None and request.sha256 is not None, f"upload {request_id} has no file"
    assert request.blob_id is not None, f"upload {request_id} has no stored bytes"
    return Job(
        request.id,
        request.publisher_id,
        request.format,
        request.dry_run,
        request.code_type,
        request.blob_id,
        request.sha256,
        request.product_id,
        tuple(rules),
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
