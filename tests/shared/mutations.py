"""A hypothesis strategy shared by the property tests of both formats: a
valid file with a few bytes inserted, replaced or deleted."""

from __future__ import annotations

from hypothesis import strategies as st


def mutate(draw: st.DrawFn, data: bytes, nasty: bytes) -> bytes:
    """`data` with one to six of the `nasty` bytes put in or taken out."""
    mutated = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(mutated)))
        byte = draw(st.sampled_from(list(nasty)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        if action == "insert" or where == len(mutated):
            mutated.insert(where, byte)
        elif action == "replace":
            mutated[where] = byte
        else:
            del mutated[where]
    return bytes(mutated)
