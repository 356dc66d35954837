"""The TXT line defined once.

The line of docs/product.md#the-txt-format,

    <productID> TAB <code> [TAB <expiry> [TAB <build> [TAB <seats>]]] CR LF

is written in four places: the reader (shared.formats.txt) reads it; the
staging view (shared.loading.staging), fed by the CopyFeed, splits it again
in SQL; the prepared download (shared.loading.prepared_download) writes it
back while the file is read; and the database writes it back from the codes
table (shared.download). This module runs the same lines through all four:
lines generated over every shape a good line may take (each optional field
left out, empty or set, empty fields at the end, numbers with leading zeros,
codes of every allowed character, Windows-1252 letters included), and a
hand-written list of edge cases. The reader's reading is the reference:

- read_txt and read_txt_blocks must agree, and read the lines as written;
- the staging view must return the reader's fields, line by line, whether a
  line came in a run of good lines or alone;
- both downloads must read back, field by field, as the reader's fields with
  the product's default expiry filled in, and must be the same bytes, with
  the same SHA-256, laid out as docs/product.md#the-download says (numbers
  written plainly, no empty field at the end of a line).

Each batch of lines is staged, stored and written down as the Code
Generator does it (shared.loading.load), in a transaction that is rolled
back.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from shared import download
from shared.formats import CleanLines, CodeRecord, Problem
from shared.formats.codes import is_forbidden
from shared.formats.txt import TxtRules, read_txt, read_txt_blocks
from shared.loading.feed import ProblemLog
from shared.loading.foreign import ForeignDuplicates
from shared.loading.job import Job
from shared.loading.load import stage
from shared.loading.prepared_download import PreparedDownload
from shared.loading.progress import Progress
from shared.loading.store import insert_codes
from shared.models import MAX_CODE_LENGTH, MAX_EVALUATION_EXPIRY_DAYS, Product, Publisher
from shared.product_rules import ProductRules
from shared.storage import BlobWriter, read_chunks

pytestmark = pytest.mark.usefixtures("sessions")  # empty tables: the batch's product and codes are its own

MAX_INT = 2**31 - 1  # expiry, build and seats are PostgreSQL integers
MAX_NUMBER_DIGITS = 10  # leading zeros included
MAX_PRODUCT_DIGITS = 19
FIELDS = ("line", "code", "expiry", "build", "seats")

# The bytes a code may hold (docs/product.md#code-rules and #encoding): no
# whitespace or control character, no NEL (85), non-breaking space (A0) or
# soft hyphen (AD), and none of the bytes Windows-1252 leaves undefined.
REFUSED = bytes(range(0x21)) + b"\x7f\x85\xa0\xad" + b"\x81\x8d\x8f\x90\x9d"
CODE_BYTES = [bytes([byte]) for byte in range(256) if byte not in REFUSED]
ASCII_BYTES = [byte for byte in CODE_BYTES if byte.isascii()]


def first(alphabet: list[bytes]) -> list[bytes]:
    """A code starts with a letter or a digit."""
    return [byte for byte in alphabet if byte.decode("cp1252").isalnum()]


def hides_an_invisible_character(code: bytes) -> bool:
    """Whether the bytes spell, read as UTF-8, an invisible character beyond
    Latin-1 (U+200B, U+2028, U+FEFF…): refused as `encoding` wherever it is."""
    for start, size in itertools.product(range(len(code)), (2, 3, 4)):
        try:
            char = code[start : start + size].decode()
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and ord(char) > 0xFF and is_forbidden(char):
            return True
    return False


Values = tuple[str, int | None, int | None, int | None]  # code, expiry, build, seats as the line means them


@st.composite
def codes(draw: st.DrawFn, prefix: str | None, plain: bool) -> bytes:
    alphabet = ASCII_BYTES if plain else draw(st.sampled_from([ASCII_BYTES, CODE_BYTES]))
    head = prefix.encode("cp1252") if prefix else draw(st.sampled_from(first(alphabet)))
    room = MAX_CODE_LENGTH - len(head)
    size = draw(st.integers(0, room if draw(st.integers(0, 3)) == 0 else 12))
    tail = draw(st.binary(min_size=size, max_size=size))
    return head + bytes(alphabet[byte % len(alphabet)][0] for byte in tail)


@st.composite
def numbers(draw: st.DrawFn, low: int, high: int, plain: bool) -> tuple[bytes, int | None]:
    """An optional field that is there: empty, or a value, now and then with leading zeros."""
    if draw(st.integers(0, 3)) == 0:
        return b"", None
    value = draw(st.integers(low, high))
    written = str(value).encode()
    if not plain and draw(st.booleans()):
        written = written.rjust(draw(st.integers(len(written), MAX_NUMBER_DIGITS)), b"0")
    return written, value


@st.composite
def good_lines(draw: st.DrawFn, rules: TxtRules, odd_one_in: int) -> tuple[bytes, Values]:
    """A good line of any shape. A plain one (ASCII, no leading zeros) may
    come in a run of good lines; `odd_one_in` says how rare the others are."""
    plain = draw(st.integers(1, odd_one_in)) > 1
    product = b"%d" % rules.product_id
    if not plain and draw(st.booleans()):
        product = product.rjust(draw(st.integers(len(product), MAX_PRODUCT_DIGITS)), b"0")
    code = draw(codes(rules.prefix, plain).filter(lambda code: not hides_an_invisible_character(code)))
    max_expiry = MAX_EVALUATION_EXPIRY_DAYS if rules.code_type == "evaluation" else MAX_INT
    optional = [
        draw(numbers(1, max_expiry, plain)),
        draw(numbers(0, MAX_INT, plain)),
        draw(numbers(1, MAX_INT, plain)),
    ]
    kept = draw(st.integers(0, 3))  # the optional fields written, empty or not; the rest left out
    line = b"\t".join([product, code, *(written for written, _ in optional[:kept])]) + b"\r\n"
    values = [value for _, value in optional[:kept]] + [None] * (3 - kept)
    return line, (code.decode("cp1252"), *values)  # type: ignore[return-value]


RULES = st.builds(
    TxtRules,
    product_id=st.sampled_from([1, 7, 1234, 2**40, 2**63 - 1]),
    prefix=st.sampled_from([None, None, "A", "Ab", "AB-", "Éc", "9"]),
    code_type=st.sampled_from(["activation", "evaluation"]),
)
# The product's default expiry by code type.
DEFAULTS = st.tuples(st.sampled_from([1, 365, MAX_INT]), st.sampled_from([1, 30, MAX_EVALUATION_EXPIRY_DAYS]))


@st.composite
def stretches(draw: st.DrawFn, rules: TxtRules) -> list[tuple[bytes, Values]]:
    """Lines of one kind: mostly plain, or anything."""
    odd_one_in = draw(st.sampled_from([1, 2, 8]))
    return draw(st.lists(good_lines(rules, odd_one_in), min_size=1, max_size=12))


@st.composite
def batches(draw: st.DrawFn) -> tuple[TxtRules, tuple[int, int], list[tuple[bytes, Values]], list[int]]:
    rules = draw(RULES)
    lines: dict[str, tuple[bytes, Values]] = {}
    for stretch in draw(st.lists(stretches(rules), min_size=1, max_size=8)):
        for line, values in stretch:
            lines.setdefault(values[0], (line, values))  # each code once, as codes are stored
    cuts = draw(st.lists(st.integers(min_value=0), max_size=8))
    return rules, draw(DEFAULTS), list(lines.values()), cuts


def chunked(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


def read_back(data: bytes, rules: TxtRules, where: str) -> list[CodeRecord]:
    """The reader's records of a file that must hold good lines only."""
    items = list(read_txt([data], rules))
    problems = [item.message for item in items if isinstance(item, Problem)]
    assert not problems, f"{where} does not read as good lines: {problems}"
    return items  # type: ignore[return-value]


def assert_same_fields(reference: Sequence[tuple[Any, ...]], rows: Sequence[tuple[Any, ...]], where: str) -> None:
    """Line by line, field by field, value and type."""
    assert len(rows) == len(reference), f"{where}: {len(rows)} lines, the reader read {len(reference)}"
    for expected, row in zip(reference, rows, strict=True):
        for name, want, got in zip(FIELDS, expected, row, strict=True):
            assert (type(got), got) == (type(want), want), (
                f"{where}, line {expected[0]}: the {name} is {got!r}, the reader read {want!r}"
            )


def assert_blocks_agree(
    lines: list[bytes], items: list[CleanLines | CodeRecord | Problem], records: list[CodeRecord]
) -> None:
    """read_txt_blocks yields every line once, in order: a run of good lines
    as the lines' own bytes (plain ASCII, each ended by CR LF), any other
    line as read_txt's record of it."""
    number = 1
    for item in items:
        if type(item) is CleanLines:
            assert item.first_line == number
            assert item.data == b"".join(lines[number - 1 : number - 1 + item.line_count])
            assert item.data.isascii() and item.data.count(b"\r\n") == item.line_count
            number += item.line_count
        else:
            assert item == records[number - 1]
            number += 1
    assert number == len(lines) + 1


def assert_same_bytes(written_down: bytes, by_database: bytes, way: str) -> None:
    """The two downloads, byte for byte; the first line that differs is named."""
    lines = zip(written_down.split(b"\n"), by_database.split(b"\n"), strict=False)
    for number, (prepared, database) in enumerate(lines, 1):
        assert prepared == database, f"{way}, line {number}: the prepared download and the database's differ"
    assert written_down == by_database, way


def assert_download_layout(written: bytes, product_id: int, where: str) -> None:
    """docs/product.md#the-download: the product's ProductID, the expiry
    always, numbers written plainly, and no empty field at the end (an empty
    build number before seats keeps its TAB)."""
    for number, line in enumerate(written.split(b"\r\n")[:-1], 1):
        product, _, expiry, *rest = line.split(b"\t")
        plain = all(field == b"%d" % int(field) for field in (expiry, *rest) if field)
        assert product == b"%d" % product_id and expiry and plain, f"{where}, line {number}: {line!r}"
        assert not rest or rest[-1], f"{where}, line {number}: {line!r} ends with an empty field"


def written_by_database(cursor: Any, request_id: int, cuts: Iterable[int]) -> bytes:
    """The download as shared.download's COPY writes it, converted in blocks cut anywhere."""
    sink = io.BytesIO()
    download._copy_sorted(cursor, request_id, sink)
    return b"".join(download._windows_1252(iter(chunked(sink.getvalue(), cuts))))


def new_job(connection: Any, rules: TxtRules, defaults: tuple[int, int], upload: bytes) -> Job:
    """The product and the stored upload of a request, as the Code Generator loads them."""
    session = Session(bind=connection)
    publisher = Publisher(name="txt-line")
    session.add(publisher)
    session.flush()
    activation, evaluation = defaults
    product = Product(
        product_id=rules.product_id,
        publisher_id=publisher.id,
        short_code="txt-line",
        name="TXT line",
        prefix=rules.prefix,
        activation_expiry_days=activation,
        evaluation_expiry_days=evaluation,
    )
    session.add(product)
    session.flush()
    writer = BlobWriter(session)
    writer.write(upload)
    stored = writer.finish()
    kept = ProductRules(product.product_id, product.short_code, product.prefix, activation, evaluation)
    return Job(
        1, publisher.id, "txt", False, rules.code_type, stored.blob_id, stored.sha256, product.product_id, (kept,)
    )


def staged_and_written_down(
    engine: Engine,
    rules: TxtRules,
    defaults: tuple[int, int],
    data: bytes,
    items: Iterator[CleanLines | CodeRecord | Problem],
    cuts: Iterable[int],
) -> tuple[list[tuple[Any, ...]], bytes, bytes]:
    """What the staging view returns for the items, the prepared download
    and the database's download, as load.py stages, stores and completes a
    TXT request; rolled back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            job = new_job(connection, rules, defaults, data)
            assert job.product is not None
            with (
                contextlib.closing(PreparedDownload(job.product.product_id, job.default_expiry)) as prepared,
                contextlib.closing(ProblemLog(job.request_id)) as problems,
            ):
                stage(cursor, job, prepared.watch(items), problems, lambda: None, Progress())
                cursor.execute("SELECT line, code, expiry, build, seats FROM staging ORDER BY line")
                staged = cursor.fetchall()
                insert_codes(cursor, job, problems, ForeignDuplicates(0))
                assert problems.count == 0, problems.listed()
                stored = prepared.store(connection, job.blob_id, job.sha256)
            written_down = b"".join(read_chunks(connection, stored.blob_id))
            by_database = written_by_database(cursor, job.request_id, cuts)
            # The SHA-256 a download is sent with, taken both ways.
            assert stored.sha256 == hashlib.sha256(written_down).hexdigest()
            assert download.codes_sha256_by_database(cursor, job.request_id) == hashlib.sha256(by_database).hexdigest()
            return staged, written_down, by_database
        finally:
            transaction.rollback()


def assert_every_writing_reads_as_the_reader(
    engine: Engine, rules: TxtRules, defaults: tuple[int, int], lines: list[bytes], cuts: Iterable[int]
) -> list[CodeRecord]:
    data = b"".join(lines)
    records = read_back(data, rules, "the file")
    blocks = list(read_txt_blocks(chunked(data, cuts), rules))
    assert_blocks_agree(lines, blocks, records)

    default = defaults[1] if rules.code_type == "evaluation" else defaults[0]
    filled = [
        record._replace(expiry_days=default if record.expiry_days is None else record.expiry_days) for record in records
    ]
    downloads = set()
    # Runs of good lines as the loader gets them; then every line alone.
    for items, way in ((iter(blocks), "lines in runs"), (iter(records), "lines alone")):
        staged, written_down, by_database = staged_and_written_down(engine, rules, defaults, data, items, cuts)
        assert_same_fields(records, staged, f"the staging view, {way}")
        for which, written in (("the prepared download", written_down), ("the database's download", by_database)):
            assert_same_fields(filled, read_back(written, rules, f"{which}, {way}"), f"{which}, {way}")
        assert_same_bytes(written_down, by_database, way)
        assert_download_layout(written_down, rules.product_id, way)
        downloads.add(written_down)
    assert len(downloads) == 1
    return records


# Not shrunk: every example is two transactions on the database, and a
# failure names the line and the field that differ.
LINES = settings(
    max_examples=60,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example rolls back: the tables stay empty
)


@given(batches())
@LINES
def test_generated_good_lines_read_the_same_in_the_staging_view_and_both_downloads(
    engine: Engine, batch: tuple[TxtRules, tuple[int, int], list[tuple[bytes, Values]], list[int]]
) -> None:
    rules, defaults, lines, cuts = batch
    records = assert_every_writing_reads_as_the_reader(engine, rules, defaults, [line for line, _ in lines], cuts)
    assert records == [CodeRecord(number, *values) for number, (_, values) in enumerate(lines, 1)]


def edge_cases(product_id: int, max_expiry: int) -> list[bytes]:
    """Good lines at the edges of the format, for a product without prefix."""
    product = b"%d" % product_id
    beyond_ascii = [byte for byte in CODE_BYTES if not byte.isascii()]
    lines = [
        [product, b"A"],
        [product, b"B", b""],
        [product, b"C", b"", b""],
        [product, b"D", b"", b"", b""],
        [product, b"E", b"", b"", b"1"],
        [product, b"F", b"", b"0"],
        [product, b"G", b"", b"0", b""],
        [product, b"H", b"1", b"", b""],
        [product, b"I", b"1", b"0", b"1"],
        [product, b"J", b"%d" % max_expiry, b"%d" % MAX_INT, b"%d" % MAX_INT],
        [product, b"K", b"0000000001", b"0000000000", b"0000000001"],  # ten digits, the most a number may have
        [product, b"L", (b"0%d" % max_expiry)[-MAX_NUMBER_DIGITS:], b"00", b"01"],
        [product, b"M", b"", b"-0", b""],  # the reader takes -0 for a build number of 0
        [product, b"N", b"1", b"-0000", b"1"],
        [product, b"V", b"07", b"8", b"9"],  # plain but for one leading zero: the rule book takes it
        [product, b"W", b"7", b"08", b"9"],
        [product, b"Y", b"7", b"8", b"09"],
        [product, b"Z", b"", b"00", b""],
        [product.rjust(MAX_PRODUCT_DIGITS, b"0"), b"O"],
        [(b"0" + product)[-MAX_PRODUCT_DIGITS:], b"P", b"7", b"8", b"9"],
        [product, b"Q" * MAX_CODE_LENGTH, b"1"],
        [product, b"\xe9" * MAX_CODE_LENGTH],
        [product, b"0!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"],  # every ASCII symbol
        [product, b"R\\N"],  # as COPY's text format writes a NULL
        [product, b"S\\."],  # as COPY marks the end of its data
        [product, b"T\\t\\r\\n\\\\", b"1", b"2", b"3"],
        [product, b'U"quoted"', b"", b"", b"2"],
        [product, b"X" + b"".join(beyond_ascii)],  # every byte beyond ASCII a code may hold
        [product, "\u00e9t\u00e9-\u20ac".encode()],  # UTF-8 letters, read as Windows-1252
        [product, b"\xc9\x80"],  # U+0240 in UTF-8: a letter, not refused
        [product, b"9"],
        [product, b"z9", b"00000060", b"0", b"00002"],
    ]
    # Every letter or digit beyond ASCII that may start a code, in every shape.
    shapes: list[list[bytes]] = [[], [b"3"], [b"", b"4"], [b"", b"", b"5"], [b"6", b"0", b""]]
    lines += [[product, byte, *shape] for byte, shape in zip(first(beyond_ascii), itertools.cycle(shapes))]
    return [b"\t".join(fields) + b"\r\n" for fields in lines]


@pytest.mark.parametrize("pieces", ["whole", "byte by byte"])
@pytest.mark.parametrize(
    ("rules", "defaults"),
    [
        (TxtRules(1234, None, "activation"), (365, 30)),
        (TxtRules(2**63 - 1, None, "evaluation"), (MAX_INT, MAX_EVALUATION_EXPIRY_DAYS)),
    ],
    ids=["activation", "evaluation"],
)
def test_the_edge_cases_read_the_same_in_the_staging_view_and_both_downloads(
    engine: Engine, rules: TxtRules, defaults: tuple[int, int], pieces: str
) -> None:
    max_expiry = MAX_EVALUATION_EXPIRY_DAYS if rules.code_type == "evaluation" else MAX_INT
    lines = edge_cases(rules.product_id, max_expiry)
    data = b"".join(lines)
    cuts = range(len(data)) if pieces == "byte by byte" else []
    assert_every_writing_reads_as_the_reader(engine, rules, defaults, lines, cuts)
