"""The CSV import format (docs/product.md#the-csv-format; LicenseSpring compatible): UTF-8
(a BOM allowed), RFC 4180 quoting, LF or CRLF line ends, a header row naming
`license__license_key`, `product__short_code` and any other of LicenseSpring's
columns (`COLUMNS`, with the type of each).

`read_csv` streams: it decodes the chunks incrementally and hands the stdlib
`csv` module one physical line at a time, holding no more than a chunk and
one row (a row longer than `_MAX_ROW` characters is refused). A row's line
is the physical line it starts on (the header is line 1), so a row after a
quoted newline counts that extra line. Each row is checked in the order of
the TXT format's rules (format, product, prefix, expiry) and its first failure is its only
problem. Text that cannot be trusted (not UTF-8, a NUL, a row too long) ends
the reading with one problem: what follows it would be guesswork. Empty
lines between rows never reach the csv module: they are counted, and each
run of them is one `ProblemRun` of blank rows (`read_csv` hands out its
problems one by one), so a file of a million blank lines costs no object a
line.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from shared.formats.codes import Failure, format_failure, prefix_failure, shown, windows_1252_failure
from shared.formats.records import CsvRecord, Problem, ProblemRun
from shared.models import MAX_EVALUATION_EXPIRY_DAYS

# Characters. A full row of every column stays far below; the process-wide
# csv.field_size_limit (128 KiB) is left alone: a row this long never gets there.
_MAX_ROW = 64 * 1024
_MAX_TEXT = 1000  # characters of a free-text cell
_MAX_INT = 2_147_483_647  # numbers are PostgreSQL integers
_SAVE_AS_UTF8 = "save the file as UTF-8 (in Excel: CSV UTF-8)"


@dataclass(frozen=True)
class CsvProduct:
    product_id: int
    prefix: str | None  # when set, every code of this product must start with it


@dataclass(frozen=True)
class CsvRules:
    products: Mapping[str, CsvProduct]  # the caller's products by short code
    only_short_code: str | None = None  # on one product's upload screen/endpoint: every row must name it


class _Invalid(NamedTuple):
    why: str  # the message after "<column> '<value>' "


# A parser gives a cell's typed value or _Invalid. Spaces around a value are
# ignored, but in free text; a cell of spaces alone is an empty cell. Spaces
# and TABs only: str.strip() would also drop a vertical tab, a form feed or a
# Unicode line separator, and a value carrying one would pass as clean.
_SPACES = " \t"
Parser = Callable[[str], Any]
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_NOT_BOOLEAN = _Invalid("is not a boolean (true/false, yes/no or 1/0)")
_NOT_DATE = _Invalid("is not a date (YYYY-MM-DD, a day that exists)")
_NOT_EMAIL = _Invalid("is not an e-mail address (one @ with something on both sides, no spaces)")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")


def _boolean(cell: str) -> bool | _Invalid:
    return _BOOLEANS.get(cell.strip(_SPACES).lower(), _NOT_BOOLEAN)


def _whole(low: int, what: str) -> Parser:
    invalid = _Invalid(f"is not {what}")

    def parse(cell: str) -> int | _Invalid:
        text = cell.strip(_SPACES)
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:  # int() never sees a huge number
            return invalid
        return int(text) if low <= int(text) <= _MAX_INT else invalid

    return parse


def _date(cell: str) -> str | _Invalid:
    found = _DATE.fullmatch(cell.strip(_SPACES))
    try:
        return datetime.date(*map(int, found.groups())).isoformat() if found else _NOT_DATE
    except ValueError:  # 2023-02-30
        return _NOT_DATE


def _email(cell: str) -> str | _Invalid:
    address = cell.strip(_SPACES)
    return address if len(address) <= 254 and _EMAIL.fullmatch(address) else _NOT_EMAIL


def _text(cell: str) -> str | _Invalid:
    return cell if len(cell) <= _MAX_TEXT else _Invalid(f"is {len(cell)} characters long; at most {_MAX_TEXT}")


_COUNT = _whole(0, "a whole number (0 or more)")
_SEATS = _whole(1, "a whole number of seats (1 or more)")
_DAYS = _whole(-_MAX_INT, "a whole number of days")

KEY, SHORT_CODE = "license__license_key", "product__short_code"  # the two required columns
IS_TRIAL, TRIAL_DAYS, VALID_DURATION = "license__is_trial", "license__trial_days", "license__valid_duration"
MAX_ACTIVATIONS = "license__max_activations"
# Every column of LicenseSpring's "Import Licenses From CSV", in its order, with its type.
COLUMNS: Mapping[str, Parser] = {
    "customer__email": _email,
    **dict.fromkeys(
        ["customer__first_name", "customer__last_name", "customer__company_name", "customer__phone"], _text
    ),
    **dict.fromkeys(["customer__reference", "customer__address", "customer__postcode", "customer__state"], _text),
    **dict.fromkeys(["customer__city", "customer__country", "order__store_id", "order__type"], _text),
    **dict.fromkeys(["order__is_test", "order__is_trial"], _boolean),
    **dict.fromkeys(["order__download_id", "order__language", "order__campaign_params"], _text),
    KEY: _text,  # checked as a code (shared.formats.codes)
    "license__enabled": _boolean,
    MAX_ACTIVATIONS: _SEATS,
    "license__validity_period": _date,
    VALID_DURATION: _DAYS,
    "license__license_type": _text,
    "license__enable_maintenance_period": _boolean,
    "license__maintenance_period": _date,
    "license__maintenance_duration": _text,  # a duration such as "3m", not a date
    IS_TRIAL: _boolean,
    "license__max_consumptions": _COUNT,
    "license__subscription_id": _text,
    **dict.fromkeys(["license__prevent_vm", "license__allow_overages"], _boolean),
    "license__max_overages": _COUNT,
    "license__reset_consumption": _boolean,
    "license__consumption_period": _text,
    TRIAL_DAYS: _DAYS,
    **dict.fromkeys(["license__is_floating", "license__is_floating_cloud"], _boolean),
    "license__floating_users": _COUNT,
    "license__note": _text,
    **dict.fromkeys(["license__max_license_users", "license__floating_timeout"], _COUNT),
    SHORT_CODE: _text,  # checked as one of the caller's products
}


def looks_like_csv(head: bytes) -> bool:
    """Whether a file starting with `head` (a KB is plenty) is CSV rather than
    TXT: a header naming our columns, or a first line with a comma and no TAB
    (a TXT line always starts with digits and a TAB)."""
    first = head.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]
    cells = {cell.strip(b' \r"').decode("utf-8", "replace") for cell in first.split(b",")}
    return KEY in cells or SHORT_CODE in cells or (b"\t" not in first and b"," in first)


def read_csv(chunks: Iterable[bytes], rules: CsvRules) -> Iterator[CsvRecord | Problem]:
    """Yield, in line order, a CsvRecord for each good row and a Problem for each bad one."""
    for item in read_csv_runs(chunks, rules):
        if isinstance(item, ProblemRun):
            yield from item.problems()
        else:
            yield item


def read_csv_runs(chunks: Iterable[bytes], rules: CsvRules) -> Iterator[CsvRecord | Problem | ProblemRun]:
    """As read_csv, but a run of blank lines comes as one ProblemRun: the loader's way in."""
    source = _Source(chunks)
    rows = _rows(source)
    first = next(rows, None)
    if first is None or isinstance(first, Problem):
        yield first or _problem(1, ("empty_file", "the file is empty; it needs a header row and at least one row"))
        return
    assert not isinstance(first, ProblemRun), "blank lines are counted as such only after the header"
    names = [cell.strip(_SPACES) for cell in first[1]]  # header cells match exactly, but for surrounding spaces
    failure = _header_failure(names)
    if failure is not None:
        yield _problem(1, failure)
        return
    source.count_blank_lines = True  # the header is read: a blank line is a blank row from here on
    check = _RowCheck(names, rules).check
    rows_seen = False
    for item in rows:
        rows_seen = True
        yield item if isinstance(item, (Problem, ProblemRun)) else check(*item)
    if not rows_seen:
        yield _problem(1, ("empty_file", "the file has a header but no rows"))


class _Stop(Exception):
    """Raised by the source through the csv reader: what follows cannot be trusted."""

    def __init__(self, failure: Failure, at_row_start: bool = False) -> None:
        self.failure, self.at_row_start = failure, at_row_start


def _rows(source: _Source) -> Iterator[tuple[int, list[str]] | Problem | ProblemRun]:
    """(the line a row starts on, its cells) for each row, or its Problem;
    before it, the blank lines the source counted on the way, if any."""
    reader = csv.reader(source, strict=True)  # strict: '"ab"c' or a quote never closed is an error
    while True:
        source.start_row()
        try:
            cells = next(reader)
        except StopIteration:
            yield from source.blank_lines()
            return
        except _Stop as stop:
            yield from source.blank_lines()
            yield _problem(source.row_start if stop.at_row_start else source.line + 1, stop.failure)
            return
        except csv.Error as error:
            yield from source.blank_lines()
            yield _problem(source.row_start, ("format", _csv_failure(str(error))))
            source.skip_rest_of_row()
            continue
        yield from source.blank_lines()
        yield source.row_start, cells


# What the csv module's errors mean for someone who wrote the file.
_CSV_ERRORS = {
    "unexpected end of data": "a quoted cell is never closed",
    "new-line character seen in unquoted field": "contains a CR without LF; lines end with LF or CR LF",
    "expected after": 'text follows the closing quote of a cell; inside quotes, write a quote twice ("")',
}


def _csv_failure(error: str) -> str:
    found = next((why for words, why in _CSV_ERRORS.items() if words in error), None)
    return found or f"the row is not valid CSV ({error})"


class _Source:
    """The file's text for csv.reader, one physical line (with its LF) at a
    time; raises _Stop where the text cannot be trusted, which is on the
    line after the last one handed out (or the row too long)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.line = 0  # the last line read (handed out or skipped)
        self.row_chars = 0  # of the current row, so far
        self._row_quotes = 0  # '"' in the current row, so far: odd while a quoted cell is open
        self._row_first: int | None = None  # the first line handed out for the current row
        self._skipping = False  # through the rest of a broken row
        # Set once the header is read: from then on an empty line before a
        # row starts is counted here as a blank row, never handed out.
        self.count_blank_lines = False
        self._blank_first = self._blank_count = 0  # the run of blank lines counted since the last row

    def blank_lines(self) -> Iterator[ProblemRun]:
        """The run of blank lines counted since the last call, if any."""
        if self._blank_count:
            yield ProblemRun(self._blank_first, self._blank_count, *_BLANK_ROW)
            self._blank_count = 0

    def start_row(self) -> None:
        self.row_chars = self._row_quotes = 0
        self._row_first = None

    @property
    def row_start(self) -> int:
        return self._row_first if self._row_first is not None else self.line + 1

    def skip_rest_of_row(self) -> None:
        """After the csv module gave up on a row (a bare CR, text after a
        closing quote), its cell may still be open and run on over the next
        lines: those lines are the broken row's, up to the one that closes
        the quote, never rows of their own (a line inside a quoted cell read
        as a row would give a code that is not in the file)."""
        self._skipping = self._row_quotes % 2 == 1

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")()
        partial = ""
        for data in _without_bom(self._chunks):
            text, failure = _decoded(decoder, data)
            partial += text  # in place, so that tiny chunks of a long line cost no copies
            lines = partial.split("\n") if "\n" in text else [partial]
            partial = lines.pop()
            for line in lines:
                if (not line or line == "\r") and self._blank_between_rows():
                    continue
                if self._handed_out(line):
                    self.row_chars += len(line) + 1
                    if self.row_chars > _MAX_ROW:
                        raise _Stop(_TOO_LONG, at_row_start=True)
                    yield line + "\n"
            if len(partial) > _MAX_ROW:  # before a failure further on, as in smaller chunks
                raise _Stop(_TOO_LONG, at_row_start=True)
            if failure is not None:
                raise _Stop(failure)
        if partial and self._handed_out(partial):
            yield partial

    def _blank_between_rows(self) -> bool:
        """Count an empty line met before a row starts as a blank row;
        False when it belongs to the csv module (the header, or inside a
        row or the rest of a broken one)."""
        if not self.count_blank_lines or self._row_first is not None or self._skipping:
            return False
        self.line += 1
        if not self._blank_count:
            self._blank_first = self.line
        self._blank_count += 1
        return True

    def _handed_out(self, line: str) -> bool:
        """Count the line; False when it is skipped (the rest of a broken row)."""
        self.line += 1
        quotes = line.count('"')
        if self._skipping:
            self._skipping = quotes % 2 == 0  # an odd count closes the open cell
            return False
        if self._row_first is None:
            self._row_first = self.line
        self._row_quotes += quotes
        return True


_TOO_LONG = ("format", f"the row is longer than {_MAX_ROW} characters, far longer than a good row (a quote left open?)")


def _decoded(decoder: codecs.IncrementalDecoder, data: bytes) -> tuple[str, Failure | None]:
    """The text of the next chunk (b"": the end), up to its first failure if any."""
    failure = None
    try:
        text = decoder.decode(data, final=not data)
    except UnicodeDecodeError as error:
        text, byte = error.object[: error.start].decode(), f"\\x{error.object[error.start]:02x}"
        why = f"ends inside a UTF-8 character ({byte}…)" if not data else f"contains the byte {byte}, not valid UTF-8"
        failure = ("encoding", f"{why}; {_SAVE_AS_UTF8}")
    nul = text.find("\0")
    if nul >= 0:
        return text[:nul], ("encoding", f"contains a NUL byte (\\x00), as UTF-16 text does; {_SAVE_AS_UTF8}")
    return text, failure


def _without_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The non-empty chunks without a UTF-8 BOM, then b"" for the end; _Stop on a UTF-16 BOM."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= 3:
            break
    for bom, name in ((codecs.BOM_UTF16_LE, "FF FE"), (codecs.BOM_UTF16_BE, "FE FF")):
        if head.startswith(bom):
            raise _Stop(("encoding", f"the file starts with a UTF-16 byte-order mark ({name}); {_SAVE_AS_UTF8}"))
    yield from (bytes(chunk) for chunk in itertools.chain([head.removeprefix(codecs.BOM_UTF8)], iterator) if chunk)
    yield b""


def _header_failure(names: list[str]) -> Failure | None:
    """What is wrong with the header, every wrong column named (the first five)."""
    if not any(names):
        return "format", "the first line is blank; it must be the header row naming the columns"
    wrongs = [_unknown(name) for name in dict.fromkeys(names) if name not in COLUMNS]
    wrongs += [f"the column {shown(name)} appears {count} times" for name, count in Counter(names).items() if count > 1]
    wrongs += [f"the required column '{name}' is missing" for name in (KEY, SHORT_CODE) if name not in names]
    more = [f"and {len(wrongs) - 5} more"] if len(wrongs) > 5 else []
    return ("format", "; ".join(wrongs[:5] + more)) if wrongs else None


def _unknown(name: str) -> str:
    if not name:
        return "a column has no name"
    hint = "column names are lower case" if name.lower() in COLUMNS else "not a LicenseSpring import column"
    return f"unknown column {shown(name)} ({hint})"


_BLANK_ROW = ("blank_line", "the row is blank (all its cells are empty); remove it")


class _RowCheck:
    """The rules of docs/product.md#the-csv-format for the rows under one good header."""

    def __init__(self, names: list[str], rules: CsvRules) -> None:
        self._width, self._key, self._short_code = len(names), names.index(KEY), names.index(SHORT_CODE)
        self._typed = [
            (index, name, COLUMNS[name]) for index, name in enumerate(names) if name not in (KEY, SHORT_CODE)
        ]
        self._products, self._only = rules.products, rules.only_short_code

    def check(self, line: int, cells: list[str]) -> CsvRecord | Problem:
        """The row's record, or its first failure in the order of the TXT rules (format, product, prefix, expiry)."""
        if len(cells) != self._width or not cells[self._key]:
            if not any(cell.strip(_SPACES) for cell in cells):
                return _problem(line, _BLANK_ROW)
            if len(cells) != self._width:
                return _problem(line, ("format", f"the row has {len(cells)} cells; the header has {self._width}"))
        code = cells[self._key]
        failure = format_failure(code) or windows_1252_failure(code)
        values = _values(cells, self._typed) if failure is None else ("format", failure)
        if isinstance(values, tuple):
            return _problem(line, values)
        short_code = cells[self._short_code].strip(_SPACES)
        product = self._products.get(short_code)
        if product is None or (self._only is not None and short_code != self._only):
            return _problem(line, _product_failure(short_code, product, self._only))
        return _finished(line, code, product, values)


def _values(cells: list[str], typed: list[tuple[int, str, Parser]]) -> dict[str, Any] | Failure:
    """The typed values of the row's other cells, but empty ones (not given)."""
    values = {}
    for index, name, parse in typed:
        cell = cells[index]
        if cell.strip(_SPACES):
            value = values[name] = parse(cell)
            if value.__class__ is _Invalid:
                return "format", f"{name} {shown(cell)} {value.why}"
    return values


def _product_failure(short_code: str, product: CsvProduct | None, only: str | None) -> Failure:
    """Why the row's product is not one this upload takes (never whether it
    exists for another publisher)."""
    if not short_code:
        return "format", f"{SHORT_CODE} is empty; every row must name one of your products"
    if product is None:
        return "product_mismatch", f"{shown(short_code)} is not one of your products"
    return "product_mismatch", f"the product {shown(short_code)} is not this upload's product {shown(only or '')}"


def _finished(line: int, code: str, product: CsvProduct, values: dict[str, Any]) -> CsvRecord | Problem:
    """The record of a row whose cells are good, unless its prefix or expiry is not."""
    evaluation = values.pop(IS_TRIAL, False)
    column = TRIAL_DAYS if evaluation else VALID_DURATION  # the other one stays an attribute
    days = values.pop(column, None)
    most = MAX_EVALUATION_EXPIRY_DAYS if evaluation else _MAX_INT
    failure = prefix_failure(code, product.prefix)
    if failure is None and days is not None and not 1 <= days <= most:
        limit = "at least 1 day" if days < 1 else f"at most {most} days for evaluation codes"
        failure = ("expiry_out_of_range", f"the {column} {days} is out of range; it must be {limit}")
    if failure is not None:
        return _problem(line, failure)
    seats = values.pop(MAX_ACTIVATIONS, None)
    code_type = "evaluation" if evaluation else "activation"
    return CsvRecord(line, code, product.product_id, code_type, days, seats, values or None)


def _problem(line: int, failure: Failure) -> Problem:
    return Problem(line, failure[0], f"line {line}: {failure[1]}")
