"""The staging table of one Code Generator run and the set-based statements
on it. Both formats stage into a relation named `staging` with the same
columns; the statements fill the gaps (the request's product and code type,
the product's default expiry) with COALESCE.

A TXT file is staged a block of lines at a time: one row per run of good
lines (shared.formats.CleanLines), its number of first line and its lines as
one text value, untouched. COPY's CSV mode, with a delimiter and a quote that
no good line holds, takes the block as it is, with nothing to escape; a
million codes are some thirty rows, not a million. The view unnests the
lines, numbers them from the block's first line and splits the fields; the
reader has already checked them. A good line that the reader's rule book
took alone is a block of one line; a line with a problem stages nothing.
A CSV file is staged as typed rows with their line numbers, product, code
type and attributes.

The expiry defaults come from `request_products`, the rules kept with the
request (shared.product_rules), not from the products table: a product
changed after the request was made does not change how the request is
stored.
"""

from __future__ import annotations

from typing import Any

from shared.statuses import CodeStatus

# The insert sorts up to two million codes: in memory, not in temporary files.
SETTINGS = "SET LOCAL work_mem TO '256MB'"

_TXT_BLOCKS = """
CREATE TEMPORARY TABLE staging_blocks (
    first_line integer NOT NULL,
    lines text NOT NULL
) ON COMMIT DROP
"""

# A block is about a megabyte: kept out of line as it came, not compressed
# (compressing it would cost more than the whole COPY). PostgreSQL 15 has
# no STORAGE clause in CREATE TABLE, hence the ALTER.
_TXT_BLOCKS_UNCOMPRESSED = "ALTER TABLE staging_blocks ALTER COLUMN lines SET STORAGE EXTERNAL"

# Dropped with staging_blocks at the end of the transaction. Every line of
# a block ends with CR LF, so the last piece of the split is empty.
_TXT_VIEW = """
CREATE TEMPORARY VIEW staging AS
SELECT (b.first_line + l.n - 1)::integer AS line,
       split_part(l.raw, E'\\t', 2) COLLATE "C" AS code,
       NULL::bigint AS product_id,
       NULL::text AS code_type,
       NULLIF(split_part(l.raw, E'\\t', 3), '')::integer AS expiry,
       NULLIF(split_part(l.raw, E'\\t', 4), '')::integer AS build,
       NULLIF(split_part(l.raw, E'\\t', 5), '')::integer AS seats,
       NULL::jsonb AS attributes
FROM staging_blocks b, unnest(string_to_array(b.lines, E'\\r\\n')) WITH ORDINALITY AS l (raw, n)
WHERE l.raw <> ''
"""

_CSV_ROWS = """
CREATE TEMPORARY TABLE staging (
    line integer NOT NULL,
    code text COLLATE "C" NOT NULL,
    product_id bigint,
    code_type text,
    expiry integer,
    build integer,
    seats integer,
    attributes jsonb
) ON COMMIT DROP
"""

CREATE = {"txt": (_TXT_BLOCKS, _TXT_BLOCKS_UNCOMPRESSED, _TXT_VIEW), "csv": (_CSV_ROWS,)}

# The products the request may name, with the expiry defaults it was made with.
REQUEST_PRODUCTS = """
CREATE TEMPORARY TABLE request_products ON COMMIT DROP AS
SELECT * FROM jsonb_to_recordset(%(rules)s::jsonb)
    AS p (product_id bigint, activation_expiry_days integer, evaluation_expiry_days integer)
"""

COPY = {
    "txt": "COPY staging_blocks (first_line, lines) FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')",
    "csv": "COPY staging (line, code, product_id, code_type, expiry, seats, attributes) FROM STDIN",
}

# The product default fills an omitted expiry, by code type.
_EXPIRY = """COALESCE(s.expiry, CASE WHEN COALESCE(s.code_type, %(code_type)s) = 'evaluation'
                                   THEN p.evaluation_expiry_days ELSE p.activation_expiry_days END)"""

# In code order: two batches that overlap take their row locks in the same
# order, so one waits for the other instead of deadlocking. A plain INSERT,
# which stops at the first code already stored, inside a PL/pgSQL block that
# catches the unique violation: PostgreSQL logs an uncaught violation with
# the code in its DETAIL line, a caught one not at all, and a code is a
# secret no log may hold (docs/operating.md#logs). ON CONFLICT DO NOTHING
# would avoid the violation too, at a third more time for every insert. The
# block's outcome is left in a transaction-local setting (INSERT_OUTCOME);
# the block's own savepoint has taken a refused insert back. The parameters
# are the request's integers and its code type, one of two words, so the
# client-side substitution cannot end the dollar quote.


def all_or_nothing(insert: str) -> str:
    """`insert` in the PL/pgSQL block described above: its outcome, `stored`
    or `duplicate`, is read with INSERT_OUTCOME."""
    return f"""
DO $insert$
BEGIN
    {insert};
    PERFORM set_config('licensecodes.insert', 'stored', true);
EXCEPTION WHEN unique_violation THEN
    PERFORM set_config('licensecodes.insert', 'duplicate', true);
END
$insert$
"""


INSERT = all_or_nothing(f"""INSERT INTO license_codes
        (code, product_id, request_id, line_no, code_type, expiry_days, build_no, seats, attributes)
    SELECT s.code, p.product_id, %(request_id)s, s.line, COALESCE(s.code_type, %(code_type)s), {_EXPIRY},
           s.build, s.seats, s.attributes
    FROM staging s JOIN request_products p ON p.product_id = COALESCE(s.product_id, %(product_id)s)
    ORDER BY s.code""")

INSERT_OUTCOME = "SELECT current_setting('licensecodes.insert')"

# The counts of the stored codes, added in the transaction that stored them,
# as its last statement before the request's own move: the count rows are
# locked until the commit, and a take from the pool waits for them
# (docs/architecture.md#maintained-counts). In key order, so that two
# batches adding to the same counts wait for each other, never deadlock. A
# TXT file's codes are all of the request's product and code type, and the
# loader has counted them: no second pass over the file.
_ADD_COUNTS = """
INSERT INTO code_counts AS c (product_id, code_type, status, codes)
{rows}
ON CONFLICT (product_id, code_type, status) DO UPDATE SET codes = c.codes + EXCLUDED.codes
"""
ADD_COUNTS = {
    "txt": _ADD_COUNTS.format(rows=f"VALUES (%(product_id)s, %(code_type)s, '{CodeStatus.AVAILABLE}', %(stored)s)"),
    "csv": _ADD_COUNTS.format(
        rows=f"""SELECT p.product_id, COALESCE(s.code_type, %(code_type)s), '{CodeStatus.AVAILABLE}', count(*)
FROM staging s JOIN request_products p ON p.product_id = COALESCE(s.product_id, %(product_id)s)
GROUP BY 1, 2 ORDER BY 1, 2"""
    ),
}

DUPLICATES_IN_FILE = """
SELECT line, code, first_line FROM (
    SELECT line, code, min(line) OVER (PARTITION BY code) AS first_line FROM staging
) numbered
WHERE line > first_line ORDER BY line
"""

# `own`: the stored code is of one of the requesting publisher's products.
DUPLICATES_ON_SERVER = """
SELECT s.line, s.code, p.publisher_id = %(publisher_id)s AS own
FROM staging s
JOIN license_codes c ON c.code = s.code AND c.request_id <> %(request_id)s
JOIN products p ON p.product_id = c.product_id
ORDER BY s.line
"""

COPY_PROBLEMS = "COPY upload_problems (request_id, line, reason_code, message) FROM STDIN"

SUMMARY = f"""
SELECT COALESCE(s.code_type, %(code_type)s), p.product_id, count(*), min({_EXPIRY}), max({_EXPIRY}),
       count(s.build), count(s.seats)
FROM staging s JOIN request_products p ON p.product_id = COALESCE(s.product_id, %(product_id)s)
GROUP BY 1, 2
"""


def summarize(groups: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A dry run's report (docs/product.md#dry-run) from SUMMARY's rows."""
    by_type: dict[str, int] = {}
    by_product: dict[str, int] = {}
    for code_type, product_id, count, *_ in groups:
        by_type[code_type] = by_type.get(code_type, 0) + count
        by_product[str(product_id)] = by_product.get(str(product_id), 0) + count
    return {
        "codes": sum(group[2] for group in groups),
        "by_code_type": by_type,
        "by_product": by_product,
        "expiry_days": {"min": min(g[3] for g in groups), "max": max(g[4] for g in groups)} if groups else None,
        "with_build_no": sum(group[5] for group in groups),
        "with_seats": sum(group[6] for group in groups),
    }
