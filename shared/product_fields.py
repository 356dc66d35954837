"""The fields of a product that its publisher sets, and the rule of each
(docs/product.md#products), defined once for the API, the screens and the
command line: each of them passes the values it received, of whatever type,
and shows the problems beside its own name for the field.

A problem is a phrase that follows the field's name ("must be a whole number
of days from 1 to 60, not 61"): the API writes `evaluation_expiry_days must
be …`, a screen writes it beside the field's label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shared.formats.codes import format_failure
from shared.models import MAX_BIGINT, MAX_CODE_LENGTH, MAX_EVALUATION_EXPIRY_DAYS, MAX_INTEGER

MAX_SHORT_CODE_LENGTH = 64
SHORT_CODE_SHAPE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_SHORT_CODE_LENGTH - 1}}}")
MAX_NAME_LENGTH = 200
# A code longer than its prefix: the prefix alone is no code.
MAX_PREFIX_LENGTH = MAX_CODE_LENGTH - 1
DEFAULT_ACTIVATION_EXPIRY_DAYS = 365
DEFAULT_EVALUATION_EXPIRY_DAYS = 30
_SHOWN = 40  # characters of a refused value repeated in its problem


def _character_class(characters: Iterable[str]) -> str:
    """`[...]` of these characters, runs written as ranges, escaping only
    what a class must (the same in Python's expressions and JSON Schema's)."""
    runs: list[list[int]] = []
    for point in sorted(ord(c) for c in characters):
        if runs and point == runs[-1][1] + 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])

    def one(point: int) -> str:
        return "\\" + chr(point) if chr(point) in "\\]^-[" else chr(point)

    return "[" + "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in runs) + "]"


def _prefix_shape() -> re.Pattern[str]:
    """What a prefix may be: the start of a good code (shared.formats.codes)
    that a TXT file, Windows-1252 text, can hold. Worked out from the code
    rules, character by character, as an expression that the API's
    document can carry too (web.api.schemas)."""
    windows_1252 = [char for byte in range(256) if (char := _decoded(byte))]
    first = [char for char in windows_1252 if format_failure(char) is None]
    rest = [char for char in windows_1252 if format_failure("A" + char) is None]
    return re.compile(f"{_character_class(first)}{_character_class(rest)}{{0,{MAX_PREFIX_LENGTH - 1}}}")


def _decoded(byte: int) -> str | None:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return None


PREFIX_SHAPE = _prefix_shape()
# At least one character that is not a space, and no control character.
NAME_SHAPE = re.compile(r"[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*", re.DOTALL)

Problems = dict[str, str]  # field name → what is wrong with its value


def _shown(value: Any) -> str:
    """The refused value, after the problem: ", not 61". Nothing for a
    missing value; a long one shortened; control characters escaped (repr
    and JSON escape them)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return f", not {value[:_SHOWN]!r}" + ("…" if len(value) > _SHOWN else "")
    text = json.dumps(value, default=str)
    return f", not {text[:_SHOWN]}" + ("…" if len(text) > _SHOWN else "")


def _whole_number(low: int, high: int, of: str = "") -> Callable[[Any], str | None]:
    def problem(value: Any) -> str | None:
        # A JSON true is a Python int; it is no number of anything.
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"must be a whole number{of} from {low:,} to {high:,}{_shown(value)}"

    return problem


def _short_code(value: Any) -> str | None:
    if isinstance(value, str) and SHORT_CODE_SHAPE.fullmatch(value):
        return None
    return (
        f"must be 1 to {MAX_SHORT_CODE_LENGTH} letters, digits, '.', '_' or '-', "
        f"starting with a letter or a digit{_shown(value)}"
    )


def _name(value: Any) -> str | None:
    if isinstance(value, str) and len(value) <= MAX_NAME_LENGTH and NAME_SHAPE.fullmatch(value):
        return None
    return f"must have 1 to {MAX_NAME_LENGTH} characters, not only spaces, and no control characters{_shown(value)}"


def _prefix(value: Any) -> str | None:
    """None (no prefix) or the start of a good code."""
    if value is None or (isinstance(value, str) and PREFIX_SHAPE.fullmatch(value)):
        return None
    return (
        f"must be 1 to {MAX_PREFIX_LENGTH} characters without spaces or control characters, the first a "
        f"letter or a digit, each one a Windows-1252 character (or no prefix at all){_shown(value)}"
    )


# Every field a publisher sets, in the order forms and documents show them.
RULES: Mapping[str, Callable[[Any], str | None]] = {
    "product_id": _whole_number(1, MAX_BIGINT),
    "short_code": _short_code,
    "name": _name,
    "prefix": _prefix,
    "activation_expiry_days": _whole_number(1, MAX_INTEGER, " of days"),
    "evaluation_expiry_days": _whole_number(1, MAX_EVALUATION_EXPIRY_DAYS, " of days"),
    "low_stock_threshold": _whole_number(0, MAX_INTEGER),
}
# Fixed when the product is created: TXT lines and CSV rows name the product by them.
FIXED = ("product_id", "short_code")
CHANGEABLE = tuple(field for field in RULES if field not in FIXED)
_FIXED_PROBLEM = (
    "cannot be changed: the product id and the short code name the product in uploaded files; "
    "create another product instead"
)


def problems_of(values: Mapping[str, Any]) -> Problems:
    """What is wrong with each of these values, by field; empty when all are good."""
    problems = {}
    for field, value in values.items():
        rule = RULES.get(field)
        problem = "is not a field of a product" if rule is None else rule(value)
        if problem is not None:
            problems[field] = problem
    return problems


def change_problems(values: Mapping[str, Any]) -> Problems:
    """As problems_of, for a change of an existing product: the fixed fields
    are refused, whatever their value."""
    fixed = {field: _FIXED_PROBLEM for field in values if field in FIXED}
    return problems_of({f: v for f, v in values.items() if f not in FIXED}) | fixed
