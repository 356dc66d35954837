"""The codes of a format, a chunk at a time, as lines ready for COPY (one
code and LF each): pure, and fast enough that making a million codes costs
less than storing them.

A chunk is built column by column rather than code by code. Every code of a
format has the same layout (CodeFormat.layout): position j of every code is
either the same fixed byte (of the prefix, a separator, the suffix) or the
k-th random character of that code. So the chunk is a bytearray of codes
side by side, and position j of all of them is written by one extended
slice assignment (`chunk[j::width] = …`): a few dozen C loops for a whole
chunk, instead of a Python loop a code.
"""

from __future__ import annotations

from collections.abc import Iterator

from shared.generation.randomness import random_characters
from shared.generation.shape import CodeFormat

# Codes made at a time: a few megabytes, whatever the quantity.
CHUNK_CODES = 100_000


def make_lines(made: CodeFormat, count: int) -> bytes:
    """`count` new random codes of the format, each followed by LF."""
    layout = made.layout()
    width = len(layout) + 1  # and the LF
    randoms = random_characters(made.alphabet.encode("ascii"), count * made.length)
    lines = bytearray(count * width)
    for position, part in enumerate(layout):
        if isinstance(part, int):
            lines[position::width] = randoms[part :: made.length]
        else:
            lines[position::width] = part * count
    lines[width - 1 :: width] = b"\n" * count
    return bytes(lines)


def chunks_of_lines(made: CodeFormat, count: int, chunk_codes: int = CHUNK_CODES) -> Iterator[bytes]:
    """The lines of `count` codes, a chunk at a time."""
    left = count
    while left:
        now = min(left, chunk_codes)
        yield make_lines(made, now)
        left -= now


def example(made: CodeFormat) -> str:
    """One code of the format, made like the others (a dry run's report shows it)."""
    return make_lines(made, 1)[:-1].decode("utf-8")
