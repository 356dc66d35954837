"""Properties of the TXT reader that must hold for any input: it never
raises, yields one item per line in line order, and reads the same however
the bytes are chunked. Its fast path cannot disagree with the rule book on
a line's values (read_txt takes them from the rule book), and a line the
fast path took but the rule book refuses would raise."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import CodeRecord, Problem
from shared.formats.txt import TxtRules, read_txt
from shared.models import REASON_CODES
from tests.conftest import examples
from tests.shared.mutations import mutate

CODE_TYPES = ["activation", "evaluation"]
RULES = TxtRules(product_id=1234, prefix=None, code_type="activation")
ALL_RULES = st.builds(
    TxtRules,
    product_id=st.sampled_from([1234, 7, 2**40, 2**63 - 1]),
    prefix=st.sampled_from([None, "A", "Ab", "Éc", "AB-"]),
    code_type=st.sampled_from(CODE_TYPES),
)
CHECKED = settings(max_examples=examples(300), deadline=None, database=None)

FIRST = b"ABCXYZabcxyz0189\xc9\xe9"
REST = FIRST + b"-_./#=+@\x80\x8a\x9f\xff"
# Bytes that break lines in every way the format knows.
NASTY = b"\r\n\t \x00\x81\x8d\x8f\x90\x9d\x0b\x0c\x85\xa0\xad\x7f\xef\xbb\xbf\xff\xfe=-+@09"


def number_field(low: int, high: int) -> st.SearchStrategy[bytes]:
    return st.one_of(st.just(b""), st.integers(low, high).map(lambda value: str(value).encode()))


@st.composite
def good_lines(draw: st.DrawFn) -> tuple[bytes, tuple[str, int | None, int | None, int | None]]:
    code = draw(st.sampled_from(list(FIRST)).map(lambda byte: bytes([byte])))
    code += draw(st.binary(max_size=30).map(lambda raw: bytes(REST[byte % len(REST)] for byte in raw)))
    numbers = draw(st.tuples(number_field(1, 60), number_field(0, 2**31 - 1), number_field(1, 2**31 - 1)))
    kept = draw(st.integers(0, 3))
    product = b"0" * draw(st.integers(0, 3)) + b"1234"
    line = b"\t".join([product, code, *numbers[:kept]]) + b"\r\n"
    values = tuple(int(field) if field else None for field in numbers[:kept])
    values += (None,) * (3 - kept)
    return line, (code.decode("cp1252"), *values)  # type: ignore[return-value]


@st.composite
def good_files(draw: st.DrawFn) -> tuple[bytes, list[CodeRecord]]:
    lines = draw(st.lists(good_lines(), max_size=20))
    expected = [CodeRecord(number, *values) for number, (_, values) in enumerate(lines, 1)]
    return b"".join(line for line, _ in lines), expected


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    return mutate(draw, draw(good_files())[0], NASTY)


ANY_FILE = st.one_of(st.binary(max_size=300), mutated_files(), good_files().map(lambda pair: pair[0]))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[start:end] for start, end in itertools.pairwise(points)]


def line_count(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


@given(good_files())
@settings(CHECKED)
def test_a_generated_valid_file_reads_back_as_its_records(pair: tuple[bytes, list[CodeRecord]]) -> None:
    data, expected = pair
    assert list(read_txt([data], RULES)) == expected


@given(ANY_FILE, ALL_RULES)
@settings(CHECKED)
def test_any_bytes_yield_one_item_per_line_in_order_and_never_raise(data: bytes, rules: TxtRules) -> None:
    items = list(read_txt([data], rules))
    assert [item.line for item in items] == list(range(1, line_count(data) + 1))
    for item in items:
        assert type(item) in (CodeRecord, Problem)
        if isinstance(item, Problem):
            assert item.reason_code in REASON_CODES
            assert item.message.startswith(f"line {item.line}: ")
            assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0xA0 or char == "\xad" for char in item.message)


@given(ANY_FILE, st.lists(st.integers(min_value=0), max_size=40))
@settings(CHECKED)
def test_the_result_does_not_depend_on_how_the_bytes_are_chunked(data: bytes, cuts: list[int]) -> None:
    assert list(read_txt(chunked(data, cuts), RULES)) == list(read_txt([data], RULES))


@given(st.binary(min_size=1020, max_size=1100), st.lists(st.integers(min_value=0), max_size=10), ALL_RULES)
@settings(CHECKED)
def test_lines_around_the_held_line_limit_read_the_same_in_any_chunks(
    data: bytes, cuts: list[int], rules: TxtRules
) -> None:
    assert list(read_txt(chunked(data, cuts), rules)) == list(read_txt([data], rules))


def test_plain_good_lines_come_as_one_block_of_their_own_bytes() -> None:
    from shared.formats import CleanLines
    from shared.formats.txt import read_txt_blocks

    data = b"".join(b"1234\tCODE-%d\t%d\t0\t1\r\n" % (n, 1 + n % 300) for n in range(1000)) + b"1234\tBAD CODE\r\n"
    items = list(read_txt_blocks([data], RULES))

    assert items[0] == CleanLines(1, 1000, data[: data.index(b"1234\tBAD")])
    assert [(type(item), item.line) for item in items[1:]] == [(Problem, 1001)]  # type: ignore[union-attr]


# Lines an attacker repeats by the million, and lines that differ from them by a byte.
REPEATABLE = st.one_of(
    st.sampled_from([b"\r\n", b"\n", b" \t\r\n", b"x\r\n", b"\xef\xbb\xbf\r\n", b"\r", b"a\rb\r\n", b"1234\tA\r\n"]),
    mutated_files().map(lambda data: data[:40] + b"\r\n"),
)


def expanded(items: list[object], rules: TxtRules) -> list[object]:
    """read_txt_blocks' items line by line: a block by the rule book, a run by its problems."""
    from shared.formats import CleanLines, ProblemRun
    from shared.formats.txt import _Reader

    lines: list[object] = []
    for item in items:
        if type(item) is CleanLines:
            lines += _Reader(rules).records(item)
        elif type(item) is ProblemRun:
            lines += item.problems()
        else:
            lines.append(item)
    return lines


@given(
    st.lists(st.tuples(REPEATABLE, st.integers(1, 40)), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0), max_size=10),
    ALL_RULES,
)
@settings(CHECKED)
def test_a_bad_line_repeated_comes_as_a_run_that_reads_as_the_rule_book_reads_each_line(
    pieces: list[tuple[bytes, int]], cuts: list[int], rules: TxtRules
) -> None:
    from shared.formats.txt import read_txt_blocks

    data = b"".join(line * times for line, times in pieces)
    assert expanded(list(read_txt_blocks(chunked(data, cuts), rules)), rules) == list(read_txt([data], rules))


def test_two_million_blank_lines_come_as_a_handful_of_runs_not_two_million_problems() -> None:
    from shared.formats import ProblemRun
    from shared.formats.txt import read_txt_blocks

    data = b"\r\n" * 2_000_000
    items = list(read_txt_blocks(chunked(data, list(range(0, len(data), 256 * 1024))), RULES))

    assert len(items) < 100
    assert sum(item.line_count if type(item) is ProblemRun else 1 for item in items) == 2_000_000  # type: ignore[union-attr]
    assert {item.reason_code for item in items} == {"blank_line"}  # type: ignore[union-attr]
