"""Coverage-guided fuzzing of the upload readers with atheris (libFuzzer).

    python fuzz/readers.py txt|csv [libFuzzer options] [corpus directories]

`make fuzz` runs both targets. An input is the file itself, so a corpus is a
directory of plain upload files (fuzz/corpus/<target> holds the seeds). The
rules and the chunking are drawn from the input's checksum: a crash file
replays exactly, and a seed stays a file a person can read.

Each run asserts what tests/shared/test_*_properties.py assert: the reader
raises nothing, yields well-formed items in line order (TXT: one per line),
reads the same however the bytes are chunked, and never yields a code that
the code rules refuse. Any exception is a crash, the reader's own
AssertionError (the TXT fast path taking a line the rule book refuses)
included.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from types import FunctionType, ModuleType

import atheris

from shared.formats import CodeRecord, CsvRecord, Problem, codes, csv, txt
from shared.formats.codes import format_failure, windows_1252_failure
from shared.formats.csv import CsvProduct, CsvRules, read_csv
from shared.formats.txt import TxtRules, _Reader, read_txt
from shared.models import REASON_CODES

# atheris 2.3 on Python 3.11 miscompiles this one (a try/except in a loop):
# instrumented, it segfaults on the first row. It runs plain.
NOT_INSTRUMENTED = {"shared.formats.csv._rows"}


def instrument(*modules: ModuleType) -> None:
    """Coverage for the readers' own functions and methods, not for the
    stdlib or SQLAlchemy (atheris.instrument_imports would take those too)."""
    for module in modules:
        for name, function in _functions(module):
            if name not in NOT_INSTRUMENTED:
                atheris.instrument_func(function)


def _functions(module: ModuleType) -> Iterator[tuple[str, FunctionType]]:
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if isinstance(value, FunctionType):
            yield f"{module.__name__}.{name}", value
        elif isinstance(value, type):
            methods = ((key, item) for key, item in vars(value).items() if isinstance(item, FunctionType))
            yield from ((f"{module.__name__}.{name}.{key}", item) for key, item in methods)


TXT_RULES = [
    TxtRules(1234, None, "activation"),
    TxtRules(1234, "Ab", "evaluation"),
    TxtRules(2**63 - 1, "Éc", "activation"),
]
_PRODUCTS = {"psc": CsvProduct(1234, None), "acme": CsvProduct(5678, "AC")}
CSV_RULES = [CsvRules(_PRODUCTS), CsvRules(_PRODUCTS, only_short_code="psc"), CsvRules({})]


def chunkings(data: bytes) -> tuple[int, list[bytes]]:
    """A choice among the rules, and the data cut at a few points, both drawn from its checksum."""
    draw = random.Random(zlib.crc32(data))
    cuts = sorted({0, len(data), *(draw.randint(0, len(data)) for _ in range(draw.randint(0, 12)))})
    return draw.randrange(3), [data[start:end] for start, end in itertools.pairwise(cuts)]


def check_problem(problem: Problem) -> None:
    assert problem.reason_code in REASON_CODES, problem
    assert problem.message.startswith(f"line {problem.line}: "), problem
    # A message never carries a control character back, whatever the file held.
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0xA0 for char in problem.message), problem


def fuzz_txt(data: bytes) -> None:
    choice, chunks = chunkings(data)
    rules = TXT_RULES[choice]
    items = list(read_txt([data], rules))
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert [item.line for item in items] == list(range(1, lines + 1)), "one item per line, in order"
    for item in items:
        assert type(item) in (CodeRecord, Problem), item
        if isinstance(item, Problem):
            check_problem(item)
        else:
            assert format_failure(item.code) is None, item
            assert item.code.startswith(rules.prefix or ""), item
    assert list(read_txt(chunks, rules)) == items, "the chunking changed the result"
    for number, line in enumerate(data.split(b"\n")[:-1], 1):  # the fast path agrees with the rule book
        alone = list(read_txt([line + b"\n"], rules))
        assert alone == [_Reader(rules).check(1, line, ended=True)], (number, line)


def fuzz_csv(data: bytes) -> None:
    choice, chunks = chunkings(data)
    rules = CSV_RULES[choice]
    items = list(read_csv([data], rules))
    assert items, "every file yields at least a record or a problem"
    lines = [item.line for item in items]
    assert lines == sorted(set(lines)) and lines[0] >= 1, "items in strictly increasing line order"
    for position, item in enumerate(items, 1):
        assert type(item) in (CsvRecord, Problem), item
        if isinstance(item, Problem):
            check_problem(item)
            # Text that cannot be trusted ends the reading (shared.formats.csv).
            assert item.reason_code != "encoding" or position == len(items), item
        else:
            assert format_failure(item.code) is None and windows_1252_failure(item.code) is None, item
            assert json.loads(json.dumps(item.attributes)) == item.attributes, item
    assert list(read_csv(chunks, rules)) == items, "the chunking changed the result"


TARGETS: dict[str, Callable[[bytes], None]] = {"txt": fuzz_txt, "csv": fuzz_csv}


def main(argv: Sequence[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {'|'.join(TARGETS)} [libFuzzer options] [corpus directories]")
    target = TARGETS[argv[1]]
    instrument(codes, csv, txt)
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
