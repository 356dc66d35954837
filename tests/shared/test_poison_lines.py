"""Poison lines: a generated valid file with one line poisoned, by
a character that must never pass for part of a code or go unnoticed. The
reader rejects exactly that line, naming its number, and reads every other
line as it would without the poison: the poison never becomes a code and
never hides one.

Two ways in: a poisoned line inserted at a random place, or a field of one
line poisoned in place, the poison at a random offset. Unicode poisons are
written in UTF-8, as a UTF-8 editor would write them into either format.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import CodeRecord, CsvRecord, Problem
from shared.formats.csv import KEY, SHORT_CODE, read_csv
from shared.formats.txt import read_txt
from shared.models import REASON_CODES
from tests.conftest import examples
from tests.shared.test_csv_properties import RULES as CSV_RULES
from tests.shared.test_csv_properties import good_files as good_csv_files
from tests.shared.test_csv_properties import good_rows, quoted
from tests.shared.test_txt_properties import RULES as TXT_RULES
from tests.shared.test_txt_properties import chunked, good_lines
from tests.shared.test_txt_properties import good_files as good_txt_files

POISONS = {
    "NUL": b"\x00",
    "vertical tab": b"\x0b",
    "form feed": b"\x0c",
    "U+2028 line separator": "\u2028".encode(),
    "U+2029 paragraph separator": "\u2029".encode(),
    "U+202E right-to-left override": "\u202e".encode(),
    "U+200B zero-width space": "\u200b".encode(),
    "BOM mid-line": b"\xef\xbb\xbf",
    "1 MB": b"A" * 2**20,
    "byte FF": b"\xff",
    "overlong C0 AF": b"\xc0\xaf",
    "lone surrogate ED A0 80": b"\xed\xa0\x80",
    "lone CR": b"\r",
}
# The TXT reason for each poison, wherever it lands in a line.
TXT_REASONS = {
    "NUL": "encoding",
    "vertical tab": "format",
    "form feed": "format",
    "U+2028 line separator": "encoding",
    "U+2029 paragraph separator": "encoding",
    "U+202E right-to-left override": "encoding",
    "U+200B zero-width space": "encoding",
    "BOM mid-line": "encoding",
    "1 MB": "format",
    "lone surrogate ED A0 80": "format",  # read as Windows-1252: 'í', a non-breaking space, '€'
    "lone CR": "line_ending",
}
# Not UTF-8, but Windows-1252 letters ('ÿ', 'À¯'): in a TXT code they are
# characters like any other, so only a field that must be a number refuses them.
TXT_LETTERS = ["byte FF", "overlong C0 AF"]
# Text the CSV reader cannot trust ends its reading with one problem
# (shared.formats.csv): no line after it is read.
CSV_STOPS = {"NUL", "1 MB", "byte FF", "overlong C0 AF", "lone surrogate ED A0 80"}
# The CSV format types every column but free text, which takes any character as its value.
FREE_TEXT = {"license__note"}
SOME = settings(max_examples=examples(40), deadline=None, database=None)


def poisoned(draw: st.DrawFn, value: bytes | str, poison: bytes) -> bytes:
    """`value` with `poison` at a random offset, between two characters (a
    TXT line: bytes, one a character; a CSV cell: text, written in UTF-8)."""
    where = draw(st.integers(0, len(value)))
    head, tail = value[:where], value[where:]
    if isinstance(head, str) and isinstance(tail, str):
        return head.encode() + poison + tail.encode()
    return bytes(head) + poison + bytes(tail)


def assert_well_worded(problem: Problem, line: int) -> None:
    assert problem.reason_code in REASON_CODES
    assert problem.message.startswith(f"line {line}: ")
    assert problem.message.isprintable(), problem.message  # every poison shown escaped, as \x0b or \u2028


# TXT


@st.composite
def poisoned_txt_files(draw: st.DrawFn, poison: bytes, insert: bool) -> tuple[bytes, list[CodeRecord], int]:
    """A valid file with one line poisoned (`insert`: a new line), the records
    of its other lines, and the number of the poisoned line."""
    data, expected = draw(good_txt_files())
    lines = data.splitlines(keepends=True)
    insert = insert or not lines  # no line to poison in place: add one
    at = draw(st.integers(0, len(lines) if insert else len(lines) - 1))
    body = draw(good_lines())[0][:-2] if insert else lines[at][:-2]
    lines[at : at if insert else at + 1] = [poisoned(draw, body, poison) + b"\r\n"]
    records = [record for record in expected if record.line != at + 1 or insert]
    records = [record._replace(line=record.line + 1) if insert and record.line > at else record for record in records]
    return b"".join(lines), records, at + 1


def read_txt_in_chunks(data: bytes, cuts: Sequence[int]) -> list[CodeRecord | Problem]:
    return list(read_txt(chunked(data, list(cuts)), TXT_RULES))


@pytest.mark.parametrize("name", list(TXT_REASONS))
@given(data=st.data(), insert=st.booleans(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@SOME
def test_a_txt_reader_rejects_exactly_the_poisoned_line(
    name: str, data: st.DataObject, insert: bool, cuts: list[int]
) -> None:
    file, records, line = data.draw(poisoned_txt_files(POISONS[name], insert))

    items = read_txt_in_chunks(file, cuts)

    problems = [item for item in items if isinstance(item, Problem)]
    assert [(problem.line, problem.reason_code) for problem in problems] == [(line, TXT_REASONS[name])]
    assert_well_worded(problems[0], line)
    assert [item for item in items if isinstance(item, CodeRecord)] == records


@pytest.mark.parametrize("name", TXT_LETTERS)
@given(data=st.data(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@SOME
def test_windows_1252_letters_in_a_txt_line_are_refused_or_read_as_those_letters(
    name: str, data: st.DataObject, cuts: list[int]
) -> None:
    file, records, line = data.draw(poisoned_txt_files(POISONS[name], insert=False))

    items = read_txt_in_chunks(file, cuts)

    assert [item for item in items if item.line != line] == records
    (item,) = (item for item in items if item.line == line)
    if isinstance(item, Problem):
        assert_well_worded(item, line)
    else:
        assert POISONS[name].decode("cp1252") in item.code


# CSV


def cells_of(row: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(row.decode(), newline=""), strict=True))


def poisoned_cell(value: bytes, always_quoted: bool) -> bytes:
    """The poisoned cell as a CSV writer may write it; a lone CR is left bare unless quoted anyway."""
    if always_quoted or any(char in value for char in b',"\n'):
        return b'"' + value.replace(b'"', b'""') + b'"'
    return value


@st.composite
def poisoned_csv_files(draw: st.DrawFn, poison: bytes, insert: bool) -> tuple[bytes, list[CsvRecord], range]:
    """A valid file with one cell of one row poisoned (`insert`: of a new
    row), the records of its other rows, and the lines the poisoned row spans."""
    data, expected = draw(good_csv_files())
    body = data.removeprefix(b"\xef\xbb\xbf")
    ending = b"\r\n" if body.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    header = cells_of(body.split(ending, 1)[0])
    line_starts = [0] + [index + 1 for index, byte in enumerate(body) if byte == ord("\n")]
    bounds = [line_starts[record.line - 1] for record in expected] + [len(body)]
    at = draw(st.integers(0, len(expected) - (0 if insert and body.endswith(b"\n") else 1)))
    if insert:
        old_row, kept_end = b"", ending
        values = dict.fromkeys(header, "") | {KEY: draw(good_rows())[0][KEY], SHORT_CODE: "psc"}
    else:
        old = body[bounds[at] : bounds[at + 1]]
        old_row = old.removesuffix(ending)
        kept_end, values = old[len(old_row) :], dict(zip(header, cells_of(old_row), strict=True))
    column = draw(st.sampled_from([name for name in header if name not in FREE_TEXT]))
    row = [quoted(values[name], draw(st.booleans())).encode() for name in header]
    value = poisoned(draw, values[column], poison)
    row[header.index(column)] = poisoned_cell(value, draw(st.booleans()))
    if row[-1].endswith(b"\r"):  # a CR before the row's LF is a CRLF line end, no poison
        row[-1] = poisoned_cell(value, always_quoted=True)
    new_row = b",".join(row)
    rest = body[bounds[at] if insert else bounds[at + 1] :]
    file = data[: len(data) - len(body)] + body[: bounds[at]] + new_row + kept_end + rest
    first = body[: bounds[at]].count(b"\n") + 1
    shift = new_row.count(b"\n") + 1 if insert else new_row.count(b"\n") - old_row.count(b"\n")
    records = [record for record in expected if insert or record.line != first]
    records = [record._replace(line=record.line + shift) if record.line >= first else record for record in records]
    return file, records, range(first, first + new_row.count(b"\n") + 1)


@pytest.mark.parametrize("name", sorted(set(POISONS) - CSV_STOPS))
@given(data=st.data(), insert=st.booleans(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@SOME
def test_a_csv_reader_rejects_exactly_the_poisoned_row(
    name: str, data: st.DataObject, insert: bool, cuts: list[int]
) -> None:
    file, records, lines = data.draw(poisoned_csv_files(POISONS[name], insert))

    items = list(read_csv(chunked(file, cuts), CSV_RULES))

    problems = [item for item in items if isinstance(item, Problem)]
    assert [problem.line for problem in problems] == [lines[0]]
    assert_well_worded(problems[0], lines[0])
    assert [item for item in items if isinstance(item, CsvRecord)] == records


@pytest.mark.parametrize("name", sorted(CSV_STOPS))
@given(data=st.data(), insert=st.booleans(), cuts=st.lists(st.integers(min_value=0), max_size=8))
@SOME
def test_text_a_csv_reader_cannot_trust_ends_the_reading_at_the_poisoned_row(
    name: str, data: st.DataObject, insert: bool, cuts: list[int]
) -> None:
    file, records, lines = data.draw(poisoned_csv_files(POISONS[name], insert))

    items = list(read_csv(chunked(file, cuts), CSV_RULES))

    *read, last = items
    assert read == [record for record in records if record.line < lines[0]]
    assert isinstance(last, Problem) and last.line in lines
    assert last.reason_code == ("format" if name == "1 MB" else "encoding")
    assert_well_worded(last, last.line)
