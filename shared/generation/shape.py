"""What a generation request asks for (docs/product.md#generation-requests),
and the rule of each field, defined once for the API, the command line and
the worker: `Generation.problems_by_field` names each bad field with its
problem, as a take's Ask does (shared.pool.allocations).

The format of a code: the prefix, the random part (`length` characters of
`alphabet`, in groups of `group` joined by `separator`), the suffix. Its
strength is `length * log2(len(alphabet))` bits; it must be at least
MIN_BITS, and the space of codes at least SPACE_PER_CODE times the
quantity, so that collisions stay rare and a request never runs out of new
codes. Every code made obeys the code rules of the TXT format
(shared.formats.codes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.formats.codes import format_failure, prefix_failure, windows_1252_failure
from shared.models import CODE_TYPES, MAX_CODE_LENGTH, MAX_EVALUATION_EXPIRY_DAYS, MAX_INTEGER

DEFAULT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0, 1, I, O: they read alike
DEFAULT_LENGTH = 20
DEFAULT_GROUP = 5
DEFAULT_SEPARATOR = "-"
MIN_ALPHABET, MAX_ALPHABET = 2, 64
MIN_LENGTH, MAX_LENGTH = 6, 64
SEPARATORS = ("-", "_", ".", "")
MIN_BITS = 40
SPACE_PER_CODE = 1000
MAX_QUANTITY = 2_000_000
_ALPHABET_SHAPE = re.compile(r"[A-Za-z0-9]+")
_SUFFIX_SHAPE = re.compile(r"[A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class CodeFormat:
    """The layout of a made code. `prefix` is the whole prefix (the product's,
    or one that starts with it)."""

    alphabet: str = DEFAULT_ALPHABET
    length: int = DEFAULT_LENGTH
    group: int = DEFAULT_GROUP
    separator: str = DEFAULT_SEPARATOR
    prefix: str = ""
    suffix: str = ""

    @property
    def bits(self) -> float:
        return self.length * math.log2(len(self.alphabet))

    @property
    def code_length(self) -> int:
        groups = math.ceil(self.length / self.group) if self.group else 1
        return len(self.prefix) + self.length + (groups - 1) * len(self.separator) + len(self.suffix)

    def layout(self, *, prefix: bool = True) -> list[int | bytes]:
        """The code, position by position: the index of a random character
        (0 to length - 1), or a fixed byte of the prefix, a separator or the suffix."""
        # UTF-8, as COPY takes it: a character of the prefix may be several fixed bytes.
        positions: list[int | bytes] = [bytes([b]) for b in self.prefix.encode("utf-8")] if prefix else []
        for index in range(self.length):
            if index and self.group and index % self.group == 0:
                positions.extend(bytes([b]) for b in self.separator.encode("ascii"))
            positions.append(index)
        positions.extend(bytes([b]) for b in self.suffix.encode("ascii"))
        return positions

    @property
    def outline(self) -> str:
        """The format for people: each random character shown as X (never a code)."""
        rest = "".join("X" if isinstance(part, int) else part.decode("ascii") for part in self.layout(prefix=False))
        return self.prefix + rest

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Generation:
    """A generation request's parameters, as sent (JSON values of any type
    until checked). `product_prefix`: the product's, which the format's
    prefix defaults to and must start with."""

    quantity: Any = None
    product_prefix: str | None = None
    code_type: Any = "activation"
    format: Mapping[str, Any] = field(default_factory=dict)
    expiry_days: Any = None
    build_no: Any = None
    seats: Any = None
    dry_run: Any = False
    unknown: tuple[str, ...] = ()  # fields sent that a generation does not have

    def problems_by_field(self) -> dict[str, str]:
        """What is wrong with each field, by its name (`format.length` for a
        field of the format); empty when the request may be queued."""
        problems = _field_problems(self)
        if problems:
            return problems
        return _strength_problems(self.code_format(), self.quantity)

    def code_format(self) -> CodeFormat:
        """The format asked for, its defaults filled in (checked fields only)."""
        given = dict(self.format)
        if given.get("prefix") is None:
            given["prefix"] = self.product_prefix or ""
        return CodeFormat(**given)


_FORMAT_FIELDS = ("alphabet", "length", "group", "separator", "prefix", "suffix")


def _field_problems(asked: Generation) -> dict[str, str]:
    problems = dict.fromkeys(asked.unknown, "is not a field of a generation request")
    if asked.quantity is None:
        problems["quantity"] = f"is required: how many codes to make, from 1 to {MAX_QUANTITY:,}"
    elif not _whole(asked.quantity, 1, MAX_QUANTITY):
        problems["quantity"] = f"must be a whole number from 1 to {MAX_QUANTITY:,}, not {_shown(asked.quantity)}"
    if not isinstance(asked.dry_run, bool):
        problems["dry_run"] = f"must be true or false, not {_shown(asked.dry_run)}"
    if asked.code_type not in CODE_TYPES:
        problems["code_type"] = f"must be one of {', '.join(CODE_TYPES)}, not {_shown(asked.code_type)}"
    problems |= _number_problems(asked)
    if not isinstance(asked.format, Mapping):
        return problems | {"format": f"must be a JSON object, not {_shown(asked.format)}"}
    for name in asked.format:
        if name not in _FORMAT_FIELDS:
            problems[f"format.{name}"] = f"is not a field of a format; the fields are {', '.join(_FORMAT_FIELDS)}"
    problems |= _format_problems(asked.format, asked.product_prefix)
    return problems


def _number_problems(asked: Generation) -> dict[str, str]:
    problems = {}
    longest = MAX_EVALUATION_EXPIRY_DAYS if asked.code_type == "evaluation" else MAX_INTEGER
    if asked.expiry_days is not None and not _whole(asked.expiry_days, 1, longest):
        problems["expiry_days"] = (
            f"must be null (the product's default) or a whole number of days from 1 to {longest:,}"
            f"{' for evaluation codes' if asked.code_type == 'evaluation' else ''}, not {_shown(asked.expiry_days)}"
        )
    if asked.build_no is not None and not _whole(asked.build_no, 0, MAX_INTEGER):
        problems["build_no"] = f"must be null or a whole number from 0 to {MAX_INTEGER:,}, not {_shown(asked.build_no)}"
    if asked.seats is not None and not _whole(asked.seats, 1, MAX_INTEGER):
        problems["seats"] = f"must be null or a whole number from 1 to {MAX_INTEGER:,}, not {_shown(asked.seats)}"
    return problems


def _format_problems(given: Mapping[str, Any], product_prefix: str | None) -> dict[str, str]:
    problems = {}
    alphabet = given.get("alphabet")
    if "alphabet" in given and not _good_alphabet(alphabet):
        problems["format.alphabet"] = (
            f"must be {MIN_ALPHABET} to {MAX_ALPHABET} different ASCII letters and digits, not {_shown(alphabet)}"
        )
    length = given.get("length")
    if "length" in given and not _whole(length, MIN_LENGTH, MAX_LENGTH):
        problems["format.length"] = (
            f"must be a whole number of characters from {MIN_LENGTH} to {MAX_LENGTH}, not {_shown(length)}"
        )
    group = given.get("group")
    if "group" in given and not _whole(group, 0, MAX_LENGTH):
        problems["format.group"] = (
            f"must be 0 (no groups) or the characters of a group, up to {MAX_LENGTH}, not {_shown(group)}"
        )
    separator = given.get("separator")
    if "separator" in given and separator not in SEPARATORS:
        problems["format.separator"] = f"must be '-', '_', '.' or empty, not {_shown(separator)}"
    suffix = given.get("suffix")
    if "suffix" in given and not (isinstance(suffix, str) and _SUFFIX_SHAPE.fullmatch(suffix)):
        problems["format.suffix"] = f"must be ASCII letters, digits, '-', '_' or '.', not {_shown(suffix)}"
    prefix = given.get("prefix")
    if prefix is not None and (problem := _prefix_problem(prefix, product_prefix)):
        problems["format.prefix"] = problem
    return problems


def _prefix_problem(prefix: Any, product_prefix: str | None) -> str | None:
    if not isinstance(prefix, str):
        return f"must be text, not {_shown(prefix)}"
    if prefix_failure(prefix, product_prefix) is not None:
        return f"must start with the product's prefix {product_prefix!r}, not {_shown(prefix)}"
    # A prefix is the start of every code: it must be a good start of one.
    failure = (format_failure(prefix + "A") or windows_1252_failure(prefix)) if prefix else None
    if failure is not None:
        return f"must be the start of a good code: {failure}"
    return None


def _strength_problems(made: CodeFormat, quantity: int) -> dict[str, str]:
    """Too few bits, too small a space for the quantity, or too long a code."""
    needed = minimum_length(len(made.alphabet), quantity)
    if made.length < needed:
        return {
            "format.length": (
                f"{made.length} of a {len(made.alphabet)}-character alphabet gives {made.bits:.1f} bits; "
                f"at least {MIN_BITS} bits and {SPACE_PER_CODE:,} possible codes for each code asked for are needed: "
                f"a length of at least {needed}"
            )
        }
    if made.code_length > MAX_CODE_LENGTH:
        return {
            "format": f"makes codes of {made.code_length} characters; a code has at most {MAX_CODE_LENGTH}: "
            "shorten the prefix, the suffix, the length or the separators"
        }
    return {}


def minimum_length(alphabet_size: int, quantity: int) -> int:
    """The fewest random characters that give MIN_BITS and SPACE_PER_CODE
    codes for each one asked for (whole numbers: no rounding of logarithms)."""
    least = max(2**MIN_BITS, SPACE_PER_CODE * quantity)
    length = 1
    while alphabet_size**length < least:
        length += 1
    return length


def _good_alphabet(alphabet: Any) -> bool:
    return (
        isinstance(alphabet, str)
        and MIN_ALPHABET <= len(alphabet) <= MAX_ALPHABET
        and alphabet.isascii()
        and _ALPHABET_SHAPE.fullmatch(alphabet) is not None
        and len(set(alphabet)) == len(alphabet)
    )


def _whole(value: Any, low: int, high: int) -> bool:
    # A JSON true is a Python int; it is no number of anything.
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _shown(value: Any) -> str:
    text = repr(value)
    return text[:40] + ("…" if len(text) > 40 else "")
