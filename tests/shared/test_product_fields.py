"""The rules of a product's fields (shared.product_fields), which the API,
the screens and the command line all apply: each bad value is named by its
field, whatever its type, and a good product has no problem."""

from __future__ import annotations

from typing import Any

import pytest

from shared.formats.codes import format_failure, windows_1252_failure
from shared.product_fields import CHANGEABLE, FIXED, RULES, change_problems, problems_of
from shared.products import NewProduct, ProductChanges

GOOD = {"product_id": 501, "short_code": "acme-app", "name": "Acme App"}


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("product_id", 0, "must be a whole number from 1 to 9,223,372,036,854,775,807, not 0"),
        ("product_id", -5, "must be a whole number from 1 to 9,223,372,036,854,775,807, not -5"),
        ("product_id", 2**63, "must be a whole number from 1 to 9,223,372,036,854,775,807, not 9223372036854775808"),
        ("product_id", "12", "must be a whole number from 1 to 9,223,372,036,854,775,807, not '12'"),
        ("product_id", True, "must be a whole number from 1 to 9,223,372,036,854,775,807, not true"),
        ("product_id", 1.5, "must be a whole number from 1 to 9,223,372,036,854,775,807, not 1.5"),
        ("short_code", "-starts-with-dash", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a"),
        ("short_code", "has space", "must be 1 to 64 letters"),
        ("short_code", "x" * 65, "must be 1 to 64 letters"),
        ("short_code", 7, "must be 1 to 64 letters"),
        ("name", "   ", "must have 1 to 200 characters, not only spaces, and no control characters, not '   '"),
        ("name", "x" * 201, "must have 1 to 200 characters"),
        ("name", "Acme\x00App", "must have 1 to 200 characters"),
        ("name", None, "must have 1 to 200 characters, not only spaces, and no control characters"),
        ("prefix", "-ABC", "must be 1 to 127 characters without spaces"),
        ("prefix", "", "must be 1 to 127 characters without spaces"),
        ("prefix", "AB C", "must be 1 to 127 characters without spaces"),
        ("prefix", "P" * 128, "must be 1 to 127 characters without spaces"),
        ("prefix", "日本", "must be 1 to 127 characters without spaces"),
        ("activation_expiry_days", 0, "must be a whole number of days from 1 to 2,147,483,647, not 0"),
        ("activation_expiry_days", 2**31, "must be a whole number of days from 1 to 2,147,483,647"),
        ("evaluation_expiry_days", 61, "must be a whole number of days from 1 to 60, not 61"),
        ("evaluation_expiry_days", 0, "must be a whole number of days from 1 to 60, not 0"),
        ("evaluation_expiry_days", "", "must be a whole number of days from 1 to 60"),
        ("low_stock_threshold", -1, "must be a whole number from 0 to 2,147,483,647, not -1"),
        ("low_stock_threshold", "many", "must be a whole number from 0 to 2,147,483,647, not 'many'"),
    ],
)
def test_a_new_product_names_each_bad_value_by_its_field(field: str, value: Any, problem: str) -> None:
    problems = NewProduct(**(GOOD | {field: value})).problems()

    assert list(problems) == [field]
    assert problems[field].startswith(problem)


def test_a_new_product_names_every_problem_at_once() -> None:
    bad = NewProduct(0, "-x", " ", prefix="-P", activation_expiry_days=0, evaluation_expiry_days=61)

    assert list(bad.problems()) == list(RULES)[:-1]  # all but the threshold, left at its default


def test_a_good_new_product_has_no_problems() -> None:
    good = NewProduct(
        501, "Acme_App.v2-x", "Acme App", "ACME-", activation_expiry_days=1, evaluation_expiry_days=60,
        low_stock_threshold=0,
    )  # fmt: skip

    assert good.problems() == {}
    assert NewProduct(2**63 - 1, "a" * 64, "x" * 200, "P€" + "x" * 125).problems() == {}


def test_a_refused_value_is_shown_short_and_without_control_characters() -> None:
    problem = problems_of({"name": "\x07" + "x" * 500})["name"]

    assert problem.endswith(", not '\\x07" + "x" * 39 + "'…")
    assert problem.isprintable()


def test_a_field_that_a_product_does_not_have_is_a_problem() -> None:
    assert problems_of({"colour": "red"}) == {"colour": "is not a field of a product"}


def test_a_change_may_set_any_changeable_field_and_never_a_fixed_one() -> None:
    assert set(CHANGEABLE) | set(FIXED) == set(RULES)
    assert ProductChanges({"prefix": None, "low_stock_threshold": 0, "name": "New"}).problems() == {}
    refused = change_problems({"product_id": 501, "short_code": "acme-app"})
    assert set(refused) == {"product_id", "short_code"}
    assert all(problem.startswith("cannot be changed") for problem in refused.values())


def test_a_change_names_a_bad_value_as_creation_does() -> None:
    assert ProductChanges({"evaluation_expiry_days": 61}).problems() == problems_of({"evaluation_expiry_days": 61})


def test_the_prefix_rule_is_the_code_rules_for_every_character() -> None:
    """PREFIX_SHAPE is worked out from the code rules; it must say what they
    say of a prefix for every Windows-1252 character and a few others, in
    the first place and after it."""
    characters = [bytes([b]).decode("cp1252", errors="replace") for b in range(256)] + list(
        "日\u2028\u200b\U0001f600ĀŁ"
    )
    for char in characters:
        for prefix in (char, "A" + char, "A" + char + "B"):
            by_code_rules = format_failure(prefix) is None and windows_1252_failure(prefix) is None
            assert (problems_of({"prefix": prefix}) == {}) == by_code_rules, repr(prefix)
