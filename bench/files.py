"""Upload files for the benchmark: all five fields, random 20-character
codes, optionally one bad line at the start or the end."""

from __future__ import annotations

import os
import random
import string
from collections.abc import Iterator
from pathlib import Path

PRODUCT_ID = 1001  # the demo product of `licensecodes serve`
ALPHABET = string.ascii_uppercase + string.digits
BAD_LINE = f"{PRODUCT_ID}\tBAD CODE\r\n"
# Random bytes mapped onto the alphabet (the first four letters a little more
# often: 256 is not a multiple of 36), for the files that fill a server.
_TO_ALPHABET = bytes(ALPHABET.encode()[byte % len(ALPHABET)] for byte in range(256))


def lines(count: int, seed: int) -> Iterator[tuple[str, int, int, int]]:
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choices(ALPHABET, k=20)), rng.randint(1, 365), rng.randint(0, 99), rng.randint(1, 10)


def write_txt(path: Path, count: int, seed: int, bad: str | None = None, product_id: int = PRODUCT_ID) -> None:
    """`bad`: None, "start" or "end" (the first or the last line is bad)."""
    with open(path, "wb") as out:
        out.writelines(txt_chunks(count, seed, bad, product_id))


def txt_chunks(count: int, seed: int, bad: str | None = None, product_id: int = PRODUCT_ID) -> Iterator[bytes]:
    """The bytes of write_txt's file, 10,000 lines at a time (the load test
    sends them from memory)."""
    batch: list[str] = [BAD_LINE] if bad == "start" else []
    for number, (code, expiry, build, seats) in enumerate(lines(count, seed), start=1):
        if (bad == "start" and number == 1) or (bad == "end" and number == count):
            continue
        batch.append(f"{product_id}\t{code}\t{expiry}\t{build}\t{seats}\r\n")
        if len(batch) >= 10_000:
            yield "".join(batch).encode("cp1252")
            batch.clear()
    if bad == "end":
        batch.append(BAD_LINE)
    yield "".join(batch).encode("cp1252")


def copy_rows(count: int, seed: int, request_id: int) -> Iterator[bytes]:
    """The same rows as write_txt, as COPY text for the license_codes columns
    (code, product_id, request_id, line_no, code_type, expiry_days, build_no, seats)."""
    batch: list[str] = []
    for number, (code, expiry, build, seats) in enumerate(lines(count, seed), start=1):
        batch.append(f"{code}\t{PRODUCT_ID}\t{request_id}\t{number}\tactivation\t{expiry}\t{build}\t{seats}\n")
        if len(batch) >= 10_000:
            yield "".join(batch).encode()
            batch.clear()
    yield "".join(batch).encode()


def write_fill_txt(path: Path, count: int, product_id: int = PRODUCT_ID) -> None:
    """A file of random 20-character codes (all five fields, the last three
    fixed) that fills a server for the scale mode: made from os.urandom,
    2,000,000 lines in about a second, where write_txt takes eight.
    Not reproducible: nothing compares these codes with a COPY of the same rows."""
    head, tail = f"{product_id}\t".encode(), b"\t365\t7\t1\r\n"
    with open(path, "wb") as out:
        for start in range(0, count, 100_000):
            codes = os.urandom(20 * min(100_000, count - start)).translate(_TO_ALPHABET)
            out.write(b"".join(head + codes[at : at + 20] + tail for at in range(0, len(codes), 20)))
