"""The TXT upload format (docs/product.md#the-txt-format; software_DNA compatible):

    <productID> TAB <code> [TAB <expiry> [TAB <build_no> [TAB <seats>]]] CR LF

in Windows-1252. The reader streams: it takes each chunk up to its last LF
and holds at most one partial line of `_MAX_LINE` bytes; a longer line is
only summarised (`_LongLine`), so neither a huge line nor a CR-only file is
ever held whole.

Two levels, one rule book. `_Reader.check` applies every rule of the format to one
line, in a fixed order (encoding, line ending, blank, format, product,
prefix, expiry); the first failure is the line's only problem. It is slow
and it is the authority. The common case takes the block path: one regex
(`_clean_lines`) matches the longest run of plainly good lines at once, and
that run is passed on as `CleanLines`, its bytes untouched. The regex takes
only lines the rule book accepts (ASCII, numbers without leading zeros and
of at most nine digits, ranges spelt out); whatever it leaves goes to
`check`, one line at a time, and the block path resumes after it. So the
block path can only ever agree with the rule book, which `read_txt` checks
for every line it expands. A bad line that the next lines repeat byte for
byte has the same problem on each of them (only line 1 is special, for
its byte-order mark): the run comes as one `ProblemRun`, so that a file of
a million blank lines is counted, not checked line by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.formats.codes import CHARACTER_NAMES, describe, format_failure, is_forbidden, prefix_failure, shown
from shared.formats.records import CleanLines, CodeRecord, Problem, ProblemRun
from shared.models import MAX_CODE_LENGTH, MAX_EVALUATION_EXPIRY_DAYS

_MAX_INT = 2_147_483_647  # expiry, build and seats are PostgreSQL integers
_MAX_DIGITS = 10  # more digits are refused before int(), whatever their value
_MAX_PRODUCT_DIGITS = 19  # product ids are bigints (up to 2**63 - 1)
_MAX_LINE = 1024  # bytes; no good line comes near (about 200 at most)
_SHOWN = 40  # characters of a value quoted in a message

_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")  # Windows-1252 maps no character to these
# The code rules (shared.formats.codes) see the byte 0x85 as what it is in
# Latin-1, NEL, a line break: a forbidden character, not Windows-1252's '…'.
_AS_LATIN1_NEL = {0x2026: "\x85"}
_CHARACTER_NAMES = {**CHARACTER_NAMES, "\x85": "the byte \\x85 (a line break in Latin-1)"}
_BOMS = (
    (b"\xef\xbb\xbf", "a UTF-8 byte-order mark (EF BB BF)"),
    (b"\xff\xfe", "a UTF-16 byte-order mark (FF FE)"),
    (b"\xfe\xff", "a UTF-16 byte-order mark (FE FF)"),
)
# A character beyond Latin-1 written in UTF-8. Read as Windows-1252 its bytes
# are letters and symbols (U+2028 reads "â€¨"), so an invisible one, which the
# format forbids, would pass for part of a code. Overlong forms and surrogates match
# too but do not decode: those bytes are Windows-1252 text after all.
_UTF8_BEYOND_LATIN1 = re.compile(rb"[\xc4-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_SAVE_AS_ANSI = "save the file as ANSI (Windows-1252) text"
_NUMBER_NAMES = ("expiry period", "build number", "seats value")

Failure = tuple[str, str]  # (reason_code, message after "line N: ")


@dataclass(frozen=True)
class TxtRules:
    product_id: int  # the product's ProductID; every line's first field must equal it
    prefix: str | None  # when set, every code must start with it
    code_type: str  # "activation" or "evaluation" (evaluation: expiry at most 60)


def read_txt(chunks: Iterable[bytes], rules: TxtRules) -> Iterator[CodeRecord | Problem]:
    """Yield, in line order, a CodeRecord for each good line and a Problem for each bad line."""
    reader = _Reader(rules)  # every bad line by the rule book itself (no runs)
    for item in reader.read(chunks):
        if type(item) is CleanLines:
            yield from reader.records(item)  # type: ignore[arg-type]
        else:
            yield item  # type: ignore[misc]


def read_txt_blocks(
    chunks: Iterable[bytes], rules: TxtRules
) -> Iterator[CleanLines | CodeRecord | Problem | ProblemRun]:
    """As read_txt, but runs of good lines come as CleanLines and runs of
    one bad line repeated as a ProblemRun: the loader's way in, where
    neither costs a Python object a line."""
    return _Reader(rules, runs=True).read(chunks)


def _clean_lines(rules: TxtRules, max_expiry: int) -> re.Pattern[bytes]:
    """Any number of whole lines that the rule book surely accepts, matched
    possessively (a run of good lines never backtracks): the ProductID as
    written by the product, a code of printable ASCII with the prefix, and
    numbers in range spelt out digit by digit."""
    prefix = rules.prefix or ""
    if not prefix:
        code = rb"[0-9A-Za-z][!-~]{0,%d}+" % (MAX_CODE_LENGTH - 1)
    elif re.fullmatch(rf"[0-9A-Za-z][!-~]{{0,{MAX_CODE_LENGTH - 1}}}", prefix):
        code = re.escape(prefix.encode()) + rb"[!-~]{0,%d}+" % (MAX_CODE_LENGTH - len(prefix))
    else:
        return re.compile(b"")  # no plain line can carry this prefix: every line goes to the rule book
    expiry = rb"(?:60|[1-5][0-9]|[1-9])" if max_expiry == MAX_EVALUATION_EXPIRY_DAYS else rb"[1-9][0-9]{0,8}+"
    build = rb"(?:0|[1-9][0-9]{0,8}+)"
    seats = rb"[1-9][0-9]{0,8}+"
    numbers = rb"(?:\t(?:%s)?+(?:\t(?:%s)?+(?:\t(?:%s)?+)?+)?+)?+" % (expiry, build, seats)
    return re.compile(rb"(?:%d\t%s%s\r\n)*+" % (rules.product_id, code, numbers))


class _Reader:
    def __init__(self, rules: TxtRules, runs: bool = False) -> None:
        self._runs = runs  # a bad line repeated comes as one ProblemRun
        self._product_id = rules.product_id
        self._prefix = rules.prefix or ""
        self._max_expiry = MAX_EVALUATION_EXPIRY_DAYS if rules.code_type == "evaluation" else _MAX_INT
        self._clean = _clean_lines(rules, self._max_expiry).match
        self._number = 0  # the last line read
        self._partial = b""  # the current line so far, at most _MAX_LINE bytes
        self._long: _LongLine | None = None  # the current line, once too long to hold

    def read(self, chunks: Iterable[bytes]) -> Iterator[CleanLines | CodeRecord | Problem | ProblemRun]:
        for chunk in chunks:
            chunk = bytes(chunk)
            end = chunk.rfind(b"\n") + 1
            if end:
                yield from self._complete(chunk[:end] if end < len(chunk) else chunk)
            self._hold(chunk[end:])
        if self._long is not None:
            yield self._long.problem(self._number + 1, ended=False)
        elif self._partial:
            yield self.check(self._number + 1, self._partial, ended=False)

    def records(self, block: CleanLines) -> Iterator[CodeRecord]:
        """The records of a block's lines, by the rule book itself."""
        lines = block.data.split(b"\n")
        lines.pop()
        for number, raw in enumerate(lines, block.first_line):
            record = self.check(number, raw, ended=True)
            if type(record) is not CodeRecord:
                raise AssertionError(f"the block path took a line the rule book refuses: {record}")
            yield record

    def _complete(self, lines: bytes) -> Iterator[CleanLines | CodeRecord | Problem | ProblemRun]:
        """Whole lines (each ended by an LF), the first joined to what came before."""
        if self._long is not None:
            first = lines.index(b"\n")
            self._number += 1
            yield self._long.feed(lines[:first]).problem(self._number, ended=True)
            self._long = None
            lines = lines[first + 1 :]
        elif self._partial:
            lines = self._partial + lines
            self._partial = b""
        yield from self._check_block(lines)

    def _hold(self, tail: bytes) -> None:
        if self._long is not None:
            self._long.feed(tail)
            return
        self._partial += tail
        if len(self._partial) > _MAX_LINE:
            self._long = _LongLine().feed(self._partial)
            self._partial = b""

    def _check_block(self, lines: bytes) -> Iterator[CleanLines | CodeRecord | Problem | ProblemRun]:
        """The hot loop, a run of lines at a time: one regex match takes the
        longest run of good lines; the line that stopped it goes to the rule
        book, and so do the copies of it that follow, as one run; the run of
        good lines resumes after them."""
        start, size = 0, len(lines)
        while start < size:
            end = self._clean(lines, start).end()  # type: ignore[union-attr]  # (?:…)*+ always matches
            if end > start:
                count = lines.count(b"\n", start, end)
                yield CleanLines(self._number + 1, count, lines if end - start == size else lines[start:end])
                self._number += count
                if end == size:
                    return
            stop = lines.index(b"\n", end)
            self._number += 1
            outcome = self.check(self._number, lines[end:stop], ended=True)
            yield outcome
            start = stop + 1
            if self._runs and type(outcome) is Problem and self._number > 1:
                copies = _copies(lines, lines[end:start], start)
                if copies:
                    why = outcome.message.removeprefix(f"line {self._number}: ")  # type: ignore[union-attr]
                    yield ProblemRun(self._number + 1, copies, outcome.reason_code, why)  # type: ignore[union-attr]
                    self._number += copies
                    start += copies * (start - end)

    def check(self, number: int, raw: bytes, ended: bool) -> CodeRecord | Problem:
        """Every rule of the format on one line (`raw`: without its LF; `ended`: it had one)."""
        if len(raw) > _MAX_LINE:
            return _LongLine().feed(raw).problem(number, ended)
        ends_with_cr = raw.endswith(b"\r")
        body = raw[:-1] if ends_with_cr else raw
        undefined = _UNDEFINED.search(raw)
        outcome = (
            _encoding_failure(number, raw[:3], b"\0" in raw, undefined[0][0] if undefined else None)
            or _utf8_failure(raw)
            or _line_ending_failure(b"\r" in body, ends_with_cr, ended)
            or _blank_failure(not body.strip(b" \t"))
            or self._fields(number, body.split(b"\t"))
        )
        if isinstance(outcome, CodeRecord):
            return outcome
        return Problem(number, outcome[0], f"line {number}: {outcome[1]}")

    def _fields(self, number: int, fields: list[bytes]) -> CodeRecord | Failure:
        parsed = _parse(fields)
        if isinstance(parsed, str):
            return "format", parsed
        product, code, days, build_no, seat_count = parsed
        if product != self._product_id:
            return "product_mismatch", f"the ProductID {_shown(fields[0])} is not this product's ({self._product_id})"
        failure = prefix_failure(code, self._prefix)
        if failure:
            return failure
        if days is not None and not 1 <= days <= self._max_expiry:
            limit = "at least 1 day" if days < 1 else f"at most {self._max_expiry} days for evaluation codes"
            return "expiry_out_of_range", f"the expiry period {days} is out of range; it must be {limit}"
        return CodeRecord(number, code, days, build_no, seat_count)


_MAX_COMPARED = 1 << 20  # bytes: the blocks of _copies stop doubling there


def _copies(lines: bytes, line: bytes, start: int) -> int:
    """How many times `line` repeats itself from `start` on: compared in
    blocks that double while they match and halve when they do not, so a
    million blank lines take some forty comparisons, not a million."""
    count, block, times = 0, line, 1
    while True:
        if lines.startswith(block, start):
            start += len(block)
            count += times
            if len(block) < _MAX_COMPARED:
                block, times = block + block, times * 2
        elif times > 1:
            times //= 2
            block = block[: len(line) * times]
        else:
            return count


def _encoding_failure(number: int, start: bytes, has_nul: bool, undefined: int | None) -> Failure | None:
    for bom, name in _BOMS if number == 1 else ():
        if start.startswith(bom):
            return "encoding", f"the file starts with {name}; {_SAVE_AS_ANSI}"
    if has_nul:
        return "encoding", f"contains a NUL byte (\\x00), as UTF-16 text does; {_SAVE_AS_ANSI}"
    if undefined is not None:
        return "encoding", f"contains the byte \\x{undefined:02x}, which Windows-1252 leaves undefined; {_SAVE_AS_ANSI}"
    return None


def _utf8_failure(raw: bytes) -> Failure | None:
    """An invisible character (U+2028, U+200B, U+202E, a byte-order mark…)
    written in UTF-8 anywhere in the line: the file is not ANSI text."""
    if raw.isascii():
        return None
    for found in _UTF8_BEYOND_LATIN1.finditer(raw):
        try:
            char = found[0].decode()
        except UnicodeDecodeError:
            continue
        if is_forbidden(char):
            what = "a byte-order mark (\\ufeff)" if char == "\ufeff" else describe(char)
            written = f"written in UTF-8 (the bytes {found[0].hex(' ').upper()})"
            return "encoding", f"contains {what} {written}, which an ANSI file cannot hold; {_SAVE_AS_ANSI}"
    return None


def _line_ending_failure(bare_cr: bool, ends_with_cr: bool, ended: bool) -> Failure | None:
    if bare_cr:
        return "line_ending", "contains a CR without LF (a classic Mac line end?); every line must end with CR LF"
    if not ended:
        return "line_ending", "the last line does not end with CR LF; every line, the last included, must"
    if not ends_with_cr:
        return "line_ending", "ends with LF only; every line must end with CR LF"
    return None


def _blank_failure(blank: bool) -> Failure | None:
    if blank:
        return "blank_line", "the line is blank; remove it (no blank lines anywhere, not even at the end of the file)"
    return None


def _parse(fields: list[bytes]) -> tuple[int, str, int | None, int | None, int | None] | str:
    """The values of a line's fields, or what is wrong with their format."""
    if len(fields) < 2:
        return f"{_shown(fields[0])} has no TAB; a line needs a ProductID and a code separated by a TAB"
    if len(fields) > 5:
        return f"the line has {len(fields)} TAB-separated fields; at most 5 (ProductID, code, expiry, build, seats)"
    product = _whole_number(fields[0], "ProductID", _MAX_PRODUCT_DIGITS)
    if isinstance(product, str):
        return product
    failure = _code_failure(fields[1])
    if failure:
        return failure
    numbers: list[int | None] = []
    for field, name in zip(fields[2:], _NUMBER_NAMES, strict=False):
        value = _whole_number(field, name, _MAX_DIGITS) if field else None
        if isinstance(value, str):
            return value
        numbers.append(value)
    days, build_no, seat_count = numbers + [None] * (3 - len(numbers))
    if build_no is not None and build_no < 0:
        return f"the build number {build_no} is negative; it must be 0 or more"
    if seat_count is not None and seat_count < 1:
        return f"the seats value {seat_count} is below 1; a code has at least 1 seat"
    return product, fields[1].decode("cp1252"), days, build_no, seat_count


def _whole_number(field: bytes, name: str, max_digits: int) -> int | str:
    digits = field[1:] if field.startswith(b"-") else field
    if not digits.isdigit():  # ASCII digits only, unlike str.isdigit
        return f"the {name} {_shown(field)} is not a whole number"
    if len(digits) > max_digits:
        return f"the {name} {_shown(field)} is too large (more than {max_digits} digits)"
    value = int(digits)
    if max_digits == _MAX_DIGITS and value > _MAX_INT:
        return f"the {name} {_shown(field)} is too large; at most {_MAX_INT}"
    return -value if digits is not field else value


def _code_failure(code: bytes) -> str | None:
    return format_failure(code.decode("cp1252").translate(_AS_LATIN1_NEL), _CHARACTER_NAMES)


def _shown(value: bytes) -> str:
    """A value quoted for a message: shortened, control characters escaped."""
    return shown(value[: _SHOWN + 1].decode("cp1252", "backslashreplace").translate(_AS_LATIN1_NEL))


class _LongLine:
    """What the checks need to know of a line too long to hold (longer than
    any good line): fed piece by piece, so a 100 MB line costs no memory.
    It does not look for UTF-8 (a character may straddle two pieces): such a
    line is refused as too long instead, however it is chunked."""

    def __init__(self) -> None:
        self.start = b""
        self.length = 0
        self.has_nul = False
        self.undefined: int | None = None
        self.crs = 0
        self.ends_with_cr = False
        self.blank = True

    def feed(self, piece: bytes) -> _LongLine:
        if not piece:
            return self
        self.start = (self.start + piece[:3])[:3]
        self.length += len(piece)
        self.has_nul = self.has_nul or b"\0" in piece
        undefined = None if self.undefined is not None else _UNDEFINED.search(piece)
        self.undefined = undefined[0][0] if undefined else self.undefined
        self.crs += piece.count(b"\r")
        self.ends_with_cr = piece.endswith(b"\r")
        self.blank = self.blank and not piece.translate(None, b" \t\r")
        return self

    def problem(self, number: int, ended: bool) -> Problem:
        failure = (
            _encoding_failure(number, self.start, self.has_nul, self.undefined)
            or _line_ending_failure(self.crs > self.ends_with_cr, self.ends_with_cr, ended)
            or _blank_failure(self.blank)
            or ("format", f"the line is {self.length - self.ends_with_cr} characters long, far longer than a good line")
        )
        return Problem(number, failure[0], f"line {number}: {failure[1]}")
