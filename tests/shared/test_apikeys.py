"""API keys `lc_<prefix>_<secret>`: their shape, the prefix that finds the
row, and the HMAC digest that proves the key (pure, no database)."""

from __future__ import annotations

import re

import pytest

from shared import apikeys

SHAPE = re.compile(r"lc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
GOOD = "lc_0123456789ab_" + "A" * 20 + "-_" + "z" * 21
SECRET = "the-server-secret"


def test_a_generated_key_has_the_documented_shape() -> None:
    key = apikeys.generate()

    match = SHAPE.fullmatch(key.plaintext)
    assert match is not None, key.plaintext
    assert match.group(1) == key.prefix


def test_two_generated_keys_differ_in_prefix_and_secret() -> None:
    first, second = apikeys.generate(), apikeys.generate()

    assert first.prefix != second.prefix
    assert first.plaintext.split("_", 2)[2] != second.plaintext.split("_", 2)[2]


def test_the_prefix_of_a_generated_key_is_its_prefix() -> None:
    key = apikeys.generate()

    assert apikeys.prefix_of(key.plaintext) == key.prefix


def test_the_prefix_of_a_well_formed_key_is_its_twelve_hex_digits() -> None:
    assert len(GOOD) == len("lc_") + 12 + 1 + 43
    assert apikeys.prefix_of(GOOD) == "0123456789ab"


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "lc_",
        "lc_0123456789ab_",
        GOOD[:-1],  # a secret of 42 characters
        GOOD + "A",  # a secret of 44 characters
        GOOD.replace("lc_", "sk_"),
        GOOD.replace("0123456789ab", "0123456789AB"),  # the prefix is lower-case hex
        GOOD.replace("0123456789ab", "0123456789a"),
        GOOD.replace("0123456789ab", "0123456789abc"),
        GOOD.replace("0123456789ab", "0123456789ag"),
        GOOD[:-1] + "=",  # padded base64 is not url-safe-unpadded
        GOOD[:-1] + "+",
        " " + GOOD,
        GOOD + "\n",
        "Bearer " + GOOD,
    ],
)
def test_a_malformed_key_has_no_prefix(malformed: str) -> None:
    assert apikeys.prefix_of(malformed) is None


def test_the_digest_is_an_hmac_and_not_the_key() -> None:
    key = apikeys.generate().plaintext

    stored = apikeys.digest(key, SECRET)

    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert key not in stored and key.split("_", 2)[2] not in stored
    assert apikeys.digest(key, SECRET) == stored  # the same key always gives the same digest


def test_a_key_matches_its_own_digest() -> None:
    key = apikeys.generate().plaintext

    assert apikeys.matches(key, apikeys.digest(key, SECRET), SECRET)


def test_a_key_does_not_match_under_another_secret_key() -> None:
    key = apikeys.generate().plaintext

    assert not apikeys.matches(key, apikeys.digest(key, SECRET), "another-secret")
    assert apikeys.digest(key, SECRET) != apikeys.digest(key, "another-secret")


def test_another_key_does_not_match_the_digest() -> None:
    key, other = apikeys.generate().plaintext, apikeys.generate().plaintext

    assert not apikeys.matches(other, apikeys.digest(key, SECRET), SECRET)


def test_a_key_with_the_same_prefix_but_another_secret_does_not_match() -> None:
    key = apikeys.generate().plaintext
    forged = key[:-1] + ("y" if key.endswith("x") else "x")

    assert apikeys.prefix_of(forged) == apikeys.prefix_of(key)
    assert not apikeys.matches(forged, apikeys.digest(key, SECRET), SECRET)
