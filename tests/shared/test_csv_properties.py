"""Properties of the CSV reader that must hold for any input: it never
raises, yields items in strictly increasing line order with well-formed
problems, reads a generated valid file back as its records, and reads the
same however the bytes are chunked."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import CsvRecord, Problem
from shared.formats.csv import CsvProduct, CsvRules, read_csv
from shared.models import REASON_CODES
from tests.conftest import examples
from tests.shared.mutations import mutate

RULES = CsvRules(products={"psc": CsvProduct(1234, None), "acme": CsvProduct(5678, "AC")})
ALL_RULES = st.sampled_from([RULES, CsvRules(RULES.products, only_short_code="psc"), CsvRules({})])
CHECKED = settings(max_examples=examples(300), deadline=None, database=None)

FIRST = "ABCXYZabcxyz0189Ééÿ"  # letters of Windows-1252 beyond ASCII: a code must fit the download
REST = FIRST + "-_./#=+@,\"'€"
TEXT = st.text(alphabet="ab ,\"'\n\r\tü€", max_size=12)
# Bytes that break a CSV file in every way the format knows.
NASTY = b'\r\n,"\t \x00\xff\xfe\xef\xbb\xbf\xe2\x82\xc3\xa9\x0c=-+@09'


@st.composite
def good_rows(draw: st.DrawFn) -> tuple[dict[str, str], tuple[Any, ...]]:
    """The cells of a good row, and the record it makes (without its line)."""
    short_code = draw(st.sampled_from(["psc", "acme"]))
    code = ("AC" if short_code == "acme" else "") + draw(st.sampled_from(list(FIRST)))
    code += draw(st.text(alphabet=REST, max_size=20))
    trial = draw(st.booleans())
    cells = {"license__license_key": code, "product__short_code": short_code}
    attributes: dict[str, Any] = {}
    days = seats = None
    if draw(st.booleans()) or trial:
        cells["license__is_trial"] = draw(st.sampled_from(["true", "Yes", "1"] if trial else ["false", "NO", "0"]))
    if draw(st.booleans()):
        days = draw(st.integers(1, 60 if trial else 100_000))
        cells["license__trial_days" if trial else "license__valid_duration"] = str(days)
    if draw(st.booleans()):
        seats = draw(st.integers(1, 2**31 - 1))
        cells["license__max_activations"] = f" {seats}"
    if draw(st.booleans()):
        cells["license__note"] = attributes["license__note"] = draw(TEXT.filter(lambda text: text.strip()))
    if draw(st.booleans()):
        cells["license__enabled"] = draw(st.sampled_from(["TRUE", "0"]))
        attributes["license__enabled"] = cells["license__enabled"] == "TRUE"
    if draw(st.booleans()):
        date = draw(st.dates())
        cells["license__maintenance_period"] = f"{date.year:04d}-{date.month:02d}-{date.day:02d}"
        attributes["license__maintenance_period"] = date.isoformat()
    record = (code, 1234 if short_code == "psc" else 5678, "evaluation" if trial else "activation", days, seats)
    return cells, (*record, attributes or None)


@st.composite
def good_files(draw: st.DrawFn) -> tuple[bytes, list[CsvRecord]]:
    rows = draw(st.lists(good_rows(), min_size=1, max_size=12))
    columns = list(dict.fromkeys(name for cells, _ in rows for name in cells))
    columns = draw(st.permutations(columns))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(columns)]
    expected, line = [], 2
    for cells, record in rows:
        lines.append(",".join(quoted(cells.get(name, ""), draw(st.booleans())) for name in columns))
        expected.append(CsvRecord(line, *record))
        line += 1 + sum(cell.count("\n") for cell in cells.values())
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    last = draw(st.sampled_from([ending, ""]))
    return bom + (ending.join(lines) + last).encode(), expected


def quoted(cell: str, always: bool) -> str:
    """A cell as RFC 4180 writes it: quoted when it must be, or when asked."""
    if always or any(char in cell for char in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    return mutate(draw, draw(good_files())[0], NASTY)


HEADER = b"license__license_key,product__short_code,license__is_trial,license__trial_days\n"
ANY_FILE = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(lambda data: HEADER + data),
    mutated_files(),
    good_files().map(lambda pair: pair[0]),
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


@given(good_files())
@CHECKED
def test_a_generated_valid_file_reads_back_as_its_records(pair: tuple[bytes, list[CsvRecord]]) -> None:
    data, expected = pair
    assert list(read_csv([data], RULES)) == expected


@given(ANY_FILE, ALL_RULES)
@CHECKED
def test_any_bytes_never_raise_and_yield_well_formed_items_in_line_order(data: bytes, rules: CsvRules) -> None:
    items = list(read_csv([data], rules))
    assert items, "every file yields at least a record or a problem"
    lines = [item.line for item in items]
    assert lines == sorted(set(lines)) and lines[0] >= 1
    for item in items:
        assert type(item) in (CsvRecord, Problem)
        if isinstance(item, Problem):
            assert item.reason_code in REASON_CODES
            assert item.message.startswith(f"line {item.line}: ")
            assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0xA0 for char in item.message)
        else:
            assert json.loads(json.dumps(item.attributes)) == item.attributes


@given(ANY_FILE, st.lists(st.integers(min_value=0), max_size=40))
@CHECKED
def test_the_result_does_not_depend_on_how_the_bytes_are_chunked(data: bytes, cuts: list[int]) -> None:
    assert list(read_csv(chunked(data, cuts), RULES)) == list(read_csv([data], RULES))


@given(st.binary(min_size=1, max_size=40), st.integers(60_000, 70_000), st.lists(st.integers(min_value=0), max_size=8))
@settings(max_examples=examples(40), deadline=None, database=None)
def test_rows_around_the_length_limit_read_the_same_in_any_chunks(tail: bytes, length: int, cuts: list[int]) -> None:
    data = HEADER + b'A1,psc,"' + b"x\n" * (length // 2) + tail
    assert list(read_csv(chunked(data, cuts), RULES)) == list(read_csv([data], RULES))


# Rows around which empty lines may fall: good ones, one whose quoted cell
# holds empty lines of its own, one the csv module refuses, one too short.
ROWS = ["K1,psc,\n", "K2,acme,note\n", 'K3,psc,"a\n\n\r\nb"\n', '"K"4,psc,\n', "x\n", "K5,psc,\r\n"]


@given(
    st.lists(st.tuples(st.sampled_from(ROWS), st.sampled_from(["\n", "\r\n"]), st.integers(0, 30)), max_size=8),
    st.lists(st.integers(min_value=0), max_size=10),
)
@settings(CHECKED)
def test_empty_lines_between_rows_read_as_rows_of_empty_cells_do(
    rows: list[tuple[str, str, int]], cuts: list[int]
) -> None:
    """Empty lines are counted without the csv module (a million of them
    cost no object each); a row of empty cells goes through it. Both are
    blank rows, with the same problem on the same line."""
    from shared.formats import ProblemRun
    from shared.formats.csv import read_csv_runs

    header = "license__license_key,product__short_code,license__note\n"
    empty = header + "".join(row + ending * times for row, ending, times in rows)
    commas = header + "".join(row + (",," + ending) * times for row, ending, times in rows)
    assert list(read_csv(chunked(empty.encode(), cuts), RULES)) == list(read_csv([commas.encode()], RULES))
    runs = [item for item in read_csv_runs([empty.encode()], RULES) if type(item) is ProblemRun]
    assert sum(run.line_count for run in runs) == sum(times for _, _, times in rows)


def test_a_header_and_two_million_blank_lines_come_as_one_run_not_two_million_problems() -> None:
    from shared.formats import ProblemRun
    from shared.formats.csv import read_csv_runs

    data = b"license__license_key,product__short_code\n" + b"\n" * 2_000_000
    items = list(read_csv_runs(chunked(data, list(range(0, len(data), 256 * 1024))), RULES))

    assert items == [ProblemRun(2, 2_000_000, "blank_line", "the row is blank (all its cells are empty); remove it")]


def test_a_blank_first_line_is_still_a_blank_header_and_a_blank_line_inside_quotes_is_the_cells() -> None:
    data = b"\nlicense__license_key,product__short_code\n"
    assert [item.reason_code for item in read_csv([data], RULES)] == ["format"]  # type: ignore[union-attr]
    quoted = b'license__license_key,product__short_code,license__note\nK1,psc,"a\n\n\nb"\n\n'
    items = list(read_csv([quoted], RULES))
    assert items[0] == CsvRecord(2, "K1", 1234, "activation", None, None, {"license__note": "a\n\n\nb"})
    assert [(item.line, item.reason_code) for item in items[1:]] == [(6, "blank_line")]  # type: ignore[union-attr]
