"""The scale mode of `make bench` (bench/README.md#the-scale-mode): the
server filled to N codes, then the 1,000,000-code upload measured again and
the reads of one big product and of a 25-code product of another publisher
timed, with 100,000 requests in the list.

    BENCH_SERVER_CODES=20000000 make bench
    .venv/bin/python -m bench --sizes 1000000 --runs 1 --latency-runs 5 --server-codes 4000000 --reads 10

Last, the takes (bench/takes.py) from the big product's pool.
"""

from __future__ import annotations

import secrets
import time
from contextlib import closing
from typing import TYPE_CHECKING, Any

import psycopg2

from bench.files import write_txt
from bench.fill import fill_codes, fill_requests, stored_codes
from bench.reads import Position, Publisher, Read, cell, pages_by_cursor, position_at, timed, url
from bench.service import PRODUCT_ID, MemoryPeaks, upload_until_decided
from bench.takes import TakeSettings, run_takes

if TYPE_CHECKING:
    from bench.run import Bench

MEASURED_SIZE = 1_000_000
DEMO = "demo"  # publisher A: the demo publisher of `licensecodes serve`, owner of the big product
SMALL_PUBLISHER, SMALL_PRODUCT, SMALL_CODES = "scale-b", 3001, 25  # publisher B
# Publisher A's other products, so that its requests are of several products.
OTHER_DEMO_PRODUCTS = (1002, 1003)
REQUESTS = 100_000
CODES_DEEP, REQUESTS_DEEP = 1_000_000, 50_000
CODE_STATUSES = ("available", "reserved", "distributed")
MB = 2**20


def run_scale(
    bench: Bench,
    server_codes: int,
    reads: int,
    read_seconds: float,
    empty: dict[str, Any] | None,
    takes: TakeSettings | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    server = bench.server
    print(f"\nscale: the server filled to {server_codes:,} codes", flush=True)
    if empty is None:
        print(f"{'':>12}  the {MEASURED_SIZE:,}-code upload into the empty server:", flush=True)
        empty = bench.size(MEASURED_SIZE, extras=False)
    password = secrets.token_urlsafe(12)
    small_key = _small_product(bench, password)
    server.user(DEMO, "scale-a@example.com", password)
    fill = fill_codes(server, bench.work, PRODUCT_ID, server_codes)
    print(
        f"{'':>12}  filled {fill['codes_before']:,} → {fill['codes_after']:,} codes in {fill['seconds']:.0f} s "
        f"({fill['uploads']} upload{'' if fill['uploads'] == 1 else 's'}; "
        f"peak RSS web {fill['peak_rss_mb']['web']:.0f} MB, "
        f"worker {fill['peak_rss_mb']['worker']:.0f} MB)",
        flush=True,
    )
    print(f"{'':>12}  the {MEASURED_SIZE:,}-code upload into the full server:", flush=True)
    full = bench.size(MEASURED_SIZE, extras=False)
    upload = {
        "empty": empty,
        "full": full,
        "over_empty": full["seconds"] / empty["seconds"],
        # The same, each over the bare COPY of its own minutes: steadier on a
        # machine whose speed drifts between the two.
        "over_empty_by_copy": full["ratio"] / empty["ratio"],
        "over_bare_copy": full["ratio"],
    }
    print(
        f"{'':>12}  {MEASURED_SIZE:,} codes into {fill['codes_after']:,}: {upload['over_empty']:.2f} times the same "
        f"into the empty server ({upload['over_empty_by_copy']:.2f} taking each over its own bare COPY), "
        f"{upload['over_bare_copy']:.2f} times a bare COPY",
        flush=True,
    )
    _request_templates(bench)
    filled = fill_requests(server, DEMO, REQUESTS)
    print(
        f"{'':>12}  {filled['requests']:,} requests of publisher {DEMO}: {filled['copied']:,} copied in SQL "
        f"from {filled['templates']} real ones in {filled['seconds']:.1f} s",
        flush=True,
    )
    base = f"http://127.0.0.1:{server.port}"
    publishers = {
        PRODUCT_ID: Publisher.signed_in(base, server.api_key, "scale-a@example.com", password),
        SMALL_PRODUCT: Publisher.signed_in(base, small_key, "scale-b@example.com", password),
    }
    with MemoryPeaks(server) as memory:
        measured = measure_reads(bench, publishers, reads, read_seconds)
    rss = {role: round(value / MB, 1) for role, value in memory.peaks.items()}
    print(f"{'':>12}  peak RSS during the reads: web {rss['web']:.0f} MB, worker {rss['worker']:.0f} MB")
    # After the reads, which the distributed codes would otherwise change.
    taken = run_takes(server, PRODUCT_ID, takes) if takes is not None else None
    minutes = (time.perf_counter() - started) / 60
    print(f"{'':>12}  the scale part took {minutes:.1f} minutes", flush=True)
    return {
        "server_codes": server_codes,
        "fill": fill,
        "upload_1000000": upload,
        "requests": filled,
        "reads": measured,
        "reads_peak_rss_mb": rss,
        "takes": taken,
        "minutes": minutes,
    }


def _small_product(bench: Bench, password: str) -> str:
    """Publisher B with its product of 25 codes (uploaded) and a web login; its API key."""
    key, product_id = bench.server.publisher(SMALL_PUBLISHER, SMALL_PRODUCT)
    bench.server.user(SMALL_PUBLISHER, "scale-b@example.com", password)
    path = bench.work / "small-product.txt"
    write_txt(path, SMALL_CODES, seed=bench.seed + 20_000, product_id=product_id)
    _, body = upload_until_decided(bench.server, path, (key, product_id))
    assert body["status"] == "completed", body
    return key


def _request_templates(bench: Bench) -> None:
    """Real decided requests that store no codes, a dry run and a rejection
    on each of three products of publisher A: what fill_requests copies."""
    for product_id in (PRODUCT_ID, *OTHER_DEMO_PRODUCTS):
        if product_id != PRODUCT_ID:
            bench.server.product(DEMO, product_id)
        for bad, fields in ((None, {"dry_run": "true"}), ("end", {})):
            bench.seed += 1
            path = bench.work / f"template-{bench.seed}.txt"
            write_txt(path, 10, bench.seed, bad, product_id)
            _, body = upload_until_decided(bench.server, path, (bench.server.api_key, product_id), **fields)
            assert body["status"] == ("completed" if bad is None else "rejected"), body


def measure_reads(
    bench: Bench, publishers: dict[int, Publisher], reads: int, read_seconds: float
) -> list[dict[str, Any]]:
    """Every read of `planned_reads`, timed; the table printed."""
    base = f"http://127.0.0.1:{bench.server.port}"
    big = publishers[PRODUCT_ID]
    cursors = pages_by_cursor(big.api, base, f"/api/v1/products/{PRODUCT_ID}/codes")
    plan = planned_reads(bench.server.database_url)
    results = []
    for product_id, read in plan:
        address = url(read, cursors)
        figures = (
            {"status": None, "n": 0}
            if address is None
            else timed(publishers[product_id].session_for(read), base + address, reads, read_seconds)
        )
        results.append(
            {"product_id": product_id, "surface": read.surface, "label": read.label, "url": address, **figures}
        )
    _print_table(bench, results, reads, cursors)
    return results


def planned_reads(database_url: str) -> list[tuple[int, Read]]:
    """(product whose publisher reads, read): the codes of each product on
    the API and the Code View, then publisher A's requests."""
    plan: list[tuple[int, Read]] = []
    with closing(psycopg2.connect(database_url)) as connection, connection.cursor() as cursor:
        for product_id in (PRODUCT_ID, SMALL_PRODUCT):
            deep = _deep_code(cursor, product_id)
            prefix = deep[1].after[:1]
            for surface, path in (
                ("codes API", f"/api/v1/products/{product_id}/codes"),
                ("Code View", f"/products/{product_id}/codes"),
            ):
                plan += [
                    (product_id, Read(surface, "first page", path)),
                    (product_id, Read(surface, deep[0], path, position=deep[1])),
                    *(
                        (product_id, Read(surface, f"status={status}", path, {"status": status}))
                        for status in CODE_STATUSES
                    ),
                    (product_id, Read(surface, f"q={prefix}", path, {"q": prefix})),
                ]
        cursor.execute(
            "SELECT id FROM upload_requests WHERE publisher_id = (SELECT id FROM publishers WHERE name = %s)"
            " AND status <> 'deleted' ORDER BY id DESC OFFSET %s LIMIT 1",
            (DEMO, REQUESTS_DEEP - 1),
        )
        deep_request = position_at(REQUESTS_DEEP, str(cursor.fetchone()[0]))
    uploads = "/api/v1/uploads"
    plan += [
        (PRODUCT_ID, Read("requests API", "first page", uploads)),
        (PRODUCT_ID, Read("requests API", f"{REQUESTS_DEEP:,} deep", uploads, position=deep_request)),
        (PRODUCT_ID, Read("requests API", f"product_id={PRODUCT_ID}", uploads, {"product_id": str(PRODUCT_ID)})),
        (PRODUCT_ID, Read("requests API", "status=rejected", uploads, {"status": "rejected"})),
        (PRODUCT_ID, Read("requests screen", "first page", f"/products/{PRODUCT_ID}/uploads")),
    ]
    return plan


def _deep_code(cursor: Any, product_id: int) -> tuple[str, Position]:
    """The deep page of a product's codes: a million codes in, or, for a
    product holding fewer than two million, the middle of its codes.
    Found here, on the bench's own connection, outside any timing."""
    cursor.execute(
        "SELECT coalesce(sum(code_count), 0) FROM upload_requests"
        " WHERE product_id = %s AND status = 'completed' AND NOT dry_run",
        (product_id,),
    )
    depth = min(CODES_DEEP, cursor.fetchone()[0] // 2)
    cursor.execute(
        "SELECT code FROM license_codes WHERE product_id = %s ORDER BY code OFFSET %s LIMIT 1",
        (product_id, max(0, depth - 1)),
    )
    return f"{depth:,} deep", position_at(depth, cursor.fetchone()[0])


def _print_table(bench: Bench, results: list[dict[str, Any]], reads: int, cursors: bool) -> None:
    database_url = bench.server.database_url
    big, small = stored_codes(database_url, PRODUCT_ID), stored_codes(database_url, SMALL_PRODUCT)
    paging = "by cursor (after)" if cursors else "by page number (the server has no cursors)"
    print(f"\n{'':>12}  reads, median / p95 in ms over {reads} reads each, deep pages {paging}:")
    columns = (f"product {PRODUCT_ID} ({big:,} codes)", f"product {SMALL_PRODUCT} ({small:,} codes)")
    print(f"{'':>12}  {'':<44}{columns[0]:<32}{columns[1]}")
    codes = [row for row in results if row["surface"] in ("codes API", "Code View")]
    by_product = {
        product_id: [row for row in codes if row["product_id"] == product_id]
        for product_id in (PRODUCT_ID, SMALL_PRODUCT)
    }
    for mine, theirs in zip(by_product[PRODUCT_ID], by_product[SMALL_PRODUCT], strict=True):
        # The deep page and the prefix differ between the two products: the small one's are named in its cell.
        own = "" if theirs["label"] == mine["label"] else f"  ({theirs['label']})"
        label = f"{mine['surface']}, {mine['label']}"
        print(f"{'':>12}  {label:<44}{cell(mine, reads):<32}{cell(theirs, reads)}{own}")
    for row in results:
        if row not in codes:
            label = f"{row['surface']} ({REQUESTS:,}), {row['label']}"
            print(f"{'':>12}  {label:<44}{cell(row, reads)}")
    print(flush=True)
