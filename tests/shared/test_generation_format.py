"""The format of generated codes and their randomness (shared.generation),
pure: each bad field named by its name, the strength rule, every code made
obeys the code rules of the TXT format and its layout, characters uniform
over the alphabet with no byte value favoured, and a million codes made in
well under a second of CPU."""

from __future__ import annotations

import math
import re
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats.codes import code_failure
from shared.generation import randomness
from shared.generation.making import example, make_lines
from shared.generation.randomness import byte_table, random_characters
from shared.generation.shape import (
    DEFAULT_ALPHABET,
    MIN_BITS,
    CodeFormat,
    Generation,
    minimum_length,
)
from tests.conftest import examples

CHECKED = settings(max_examples=examples(200), deadline=None, database=None)
LETTERS_AND_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# The fields


def test_the_defaults_make_twenty_characters_in_groups_of_five_after_the_products_prefix() -> None:
    made = Generation(quantity=10, product_prefix="AC-")

    assert made.problems_by_field() == {}
    assert made.code_format() == CodeFormat(prefix="AC-")
    assert re.fullmatch(r"AC-[2-9A-HJ-NP-Z]{5}(-[2-9A-HJ-NP-Z]{5}){3}", example(made.code_format()))
    assert made.code_format().bits == 100.0


def test_every_bad_field_is_named_at_once() -> None:
    asked = Generation(
        quantity=0,
        code_type="trial",
        format={"alphabet": "AA", "length": 4, "group": -2, "separator": "+", "suffix": "!", "prefix": "ZZ"},
        expiry_days=0,
        build_no=-1,
        seats=0,
        dry_run=1,
        product_prefix="AC",
    )

    assert set(asked.problems_by_field()) == {
        "quantity", "code_type", "expiry_days", "build_no", "seats", "dry_run",
        "format.alphabet", "format.length", "format.group", "format.separator", "format.suffix", "format.prefix",
    }  # fmt: skip


def test_an_evaluation_code_expires_within_sixty_days() -> None:
    assert "expiry_days" in Generation(quantity=1, code_type="evaluation", expiry_days=61).problems_by_field()
    assert Generation(quantity=1, code_type="evaluation", expiry_days=60).problems_by_field() == {}
    assert Generation(quantity=1, code_type="activation", expiry_days=61).problems_by_field() == {}


def test_a_prefix_must_start_with_the_products_and_a_null_one_is_the_products() -> None:
    assert Generation(quantity=1, product_prefix="AC", format={"prefix": "ACME-"}).problems_by_field() == {}
    assert Generation(quantity=1, product_prefix="AC", format={"prefix": None}).code_format().prefix == "AC"
    assert "format.prefix" in Generation(quantity=1, product_prefix="AC", format={"prefix": "A"}).problems_by_field()
    assert "format.prefix" in Generation(quantity=1, format={"prefix": "-X"}).problems_by_field()


@pytest.mark.parametrize(
    ("alphabet_size", "quantity", "least"),
    [(2, 1, 40), (10, 1, 13), (32, 1, 8), (64, 2_000_000, 7), (36, 1, 8)],
)
def test_the_least_length_gives_forty_bits_and_a_thousand_codes_of_space_each(
    alphabet_size: int, quantity: int, least: int
) -> None:
    assert minimum_length(alphabet_size, quantity) == least
    alphabet = LETTERS_AND_DIGITS[:alphabet_size] if alphabet_size <= 62 else LETTERS_AND_DIGITS + "_x"
    weak = Generation(quantity=quantity, format={"alphabet": alphabet[:alphabet_size], "length": max(least - 1, 6)})
    if least - 1 >= 6 and alphabet_size <= 62:
        problem = weak.problems_by_field()["format.length"]
        assert f"at least {MIN_BITS} bits" in problem and f"a length of at least {least}" in problem


@given(size=st.integers(2, 64), quantity=st.integers(1, 2_000_000))
@CHECKED
def test_the_least_length_is_the_least_that_holds(size: int, quantity: int) -> None:
    least = minimum_length(size, quantity)
    needed = max(2**MIN_BITS, 1000 * quantity)
    assert size**least >= needed > size ** (least - 1)


# The codes made


@st.composite
def formats(draw: st.DrawFn) -> tuple[CodeFormat, str | None]:
    alphabet = "".join(draw(st.permutations(LETTERS_AND_DIGITS))[: draw(st.integers(2, 62))])
    product_prefix = draw(st.sampled_from([None, "A", "AC-", "Éc", "9.x"]))
    prefix = (product_prefix or "") + draw(st.sampled_from(["", "Z", "R-2."]))
    made = CodeFormat(
        alphabet=alphabet,
        length=draw(st.integers(minimum_length(len(alphabet), 1), 64)),
        group=draw(st.integers(0, 64)),
        separator=draw(st.sampled_from(["-", "_", ".", ""])),
        prefix=prefix,
        suffix=draw(st.sampled_from(["", "-X", ".v2", "_"])),
    )
    return made, product_prefix


@given(formats(), st.integers(1, 50))
@CHECKED
def test_every_code_made_obeys_the_code_rules_and_its_layout(drawn: tuple[CodeFormat, str | None], count: int) -> None:
    made, product_prefix = drawn
    asked = Generation(quantity=count, product_prefix=product_prefix, format=made.as_json())
    problems = asked.problems_by_field()
    codes = make_lines(made, count).decode("utf-8").split("\n")
    assert codes.pop() == ""
    assert len(codes) == count
    if problems:  # only a code longer than 128 characters
        assert set(problems) == {"format"} and made.code_length > 128
        return
    chars = f"[{re.escape(made.alphabet)}]"
    groups = (
        [made.length]
        if not made.group
        else [min(made.group, made.length - i) for i in range(0, made.length, made.group)]
    )
    random_part = re.escape(made.separator).join(f"{chars}{{{n}}}" for n in groups)
    shape = re.compile(re.escape(made.prefix) + random_part + re.escape(made.suffix))
    for code in codes:
        assert shape.fullmatch(code), code
        assert code_failure(code, product_prefix) is None
        assert len(code) == made.code_length


# The randomness


@pytest.mark.parametrize("size", range(2, 65))
def test_no_byte_value_is_favoured_each_character_has_as_many_bytes_as_every_other(size: int) -> None:
    alphabet = (LETTERS_AND_DIGITS + "+/")[:size].encode()
    table, dropped = byte_table(alphabet)
    kept = [value for value in range(256) if value not in dropped]
    reached = Counter(table[value] for value in kept)
    assert set(reached) == set(alphabet)
    assert set(reached.values()) == {256 // size}
    assert dropped == bytes(range(256 // size * size, 256))


def test_every_byte_value_once_gives_every_character_equally_often(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = bytes(range(256)) * 100
    monkeypatch.setattr(randomness, "random_bytes", lambda count: stream[:count])
    made = random_characters(b"ABCDEFG", 7 * 36)  # 256 // 7 = 36 values a character, 4 dropped

    assert Counter(made) == dict.fromkeys(b"ABCDEFG", 36)


def chi_square(counts: Counter[int], size: int, total: int) -> float:
    expected = total / size
    return sum((counts.get(char, 0) - expected) ** 2 / expected for char in range(size))


def chi_square_limit(freedom: int) -> float:
    """The chi-square value a uniform source exceeds with probability about
    one in a million (Wilson-Hilferty): a failure is a bias, not bad luck."""
    z = 4.75
    return float(freedom * (1 - 2 / (9 * freedom) + z * math.sqrt(2 / (9 * freedom))) ** 3)


@pytest.mark.parametrize("size", [2, 3, 10, 23, 32, 36, 61, 62, 64])
def test_characters_are_uniform_over_the_alphabet_by_chi_square(size: int) -> None:
    alphabet = bytes(range(size))  # any distinct bytes: the counts are by position in the alphabet
    total = 20_000 * size
    counts = Counter(random_characters(alphabet, total))

    assert chi_square(counts, size, total) < chi_square_limit(size - 1)


def test_the_chi_square_test_sees_the_bias_of_a_plain_modulo() -> None:
    """Without the drop, bytes 248-255 would make the first 8 of 62
    characters a quarter likelier: the same test refuses that source."""
    import os

    total = 20_000 * 62
    biased = Counter(value % 62 for value in os.urandom(total))
    assert chi_square(biased, 62, total) > chi_square_limit(61)


def test_a_million_codes_of_twenty_characters_take_well_under_a_second_of_cpu() -> None:
    made = CodeFormat(alphabet=DEFAULT_ALPHABET, length=20, prefix="AC-")
    started = time.process_time()
    lines = make_lines(made, 1_000_000)
    spent = time.process_time() - started

    assert lines.count(b"\n") == 1_000_000
    assert spent < 0.8, f"{spent:.2f} s of CPU"
