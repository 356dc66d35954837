"""The yardstick: PostgreSQL's own COPY of the same rows, on the same
database in the same run, into an empty copy of the codes table with the same
indexes (LIKE … INCLUDING ALL), nothing else around it."""

from __future__ import annotations

import io
import time

import psycopg2

from bench.files import copy_rows

COLUMNS = "(code, product_id, request_id, line_no, code_type, expiry_days, build_no, seats)"


def bare_copy_seconds(database_url: str, count: int, seed: int) -> float:
    data = io.BytesIO(b"".join(copy_rows(count, seed, request_id=1)))  # made before the clock starts
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy")
            cursor.execute("CREATE TABLE bench_copy (LIKE license_codes INCLUDING ALL)")
            connection.commit()
            started = time.perf_counter()
            cursor.copy_expert(f"COPY bench_copy {COLUMNS} FROM STDIN", data, size=1 << 20)
            connection.commit()
            seconds = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_copy")
            connection.commit()
        return seconds
    finally:
        connection.close()
