"""Characters drawn uniformly from an alphabet, from the operating system's
CSPRNG (docs/architecture.md#generated-codes).

A random byte is mapped to a character by a table; the bytes at or above the
largest multiple of the alphabet's size below 256 are dropped first, so that
each character is reached by exactly as many byte values as every other: no
modulo bias. `bytes.translate` does both steps in C, which makes a million
20-character codes in a few hundredths of a second.

`random_bytes` is the one source of randomness; the tests of collisions
replace it in their own process (tests/pipeline/test_generation_races.py),
to make codes they know. Nothing outside a test's process can reach it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

random_bytes: Callable[[int], bytes] = os.urandom


def byte_table(alphabet: bytes) -> tuple[bytes, bytes]:
    """The translation table (byte → character) and the bytes to drop: the
    ones whose use would favour the first characters of the alphabet."""
    size = len(alphabet)
    kept = 256 - 256 % size
    table = bytes(alphabet[value % size] for value in range(256))
    return table, bytes(range(kept, 256))


def random_characters(alphabet: bytes, count: int) -> bytes:
    """`count` characters of `alphabet`, each uniform and independent."""
    table, dropped = byte_table(alphabet)
    kept = 256 - len(dropped)
    made = bytearray()
    while len(made) < count:
        wanted = count - len(made)
        # Enough bytes, on average, for what is still wanted after the drop, and a little over.
        made += random_bytes(wanted * 256 // kept + 64).translate(table, dropped)
    return bytes(made[:count])
