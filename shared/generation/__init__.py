"""Generation requests: the Code Generator makes the codes instead of
reading them from a file (docs/product.md#generation-requests).

    shape.py       what a generation asks for, and the rule of each field (pure)
    randomness.py  characters from the operating system's CSPRNG, uniform over an alphabet (pure)
    making.py      the codes of a format, a chunk at a time, as the lines COPY takes (pure)
    requests.py    creating a generation request (the web's side)

The worker's side (stage, insert, replace collisions) is the loader's:
shared/loading/generated.py.

How the worker makes the codes unique: docs/architecture.md#generated-codes.
"""
