"""What a reader yields: a good line's code, or a problem with a line."""

from __future__ import annotations

from typing import Any, NamedTuple


class CodeRecord(NamedTuple):
    """One valid line. A tuple, not an object: a million of them stream by."""

    line: int
    code: str
    expiry_days: int | None  # None: the product's default applies
    build_no: int | None
    seats: int | None


class Problem(NamedTuple):
    """Something wrong in the file, in words a publisher understands.

    `message` is a whole sentence that names the line ("line 7: ends with LF
    only; every line must end with CR LF"); `reason_code` is one of
    shared.models.REASON_CODES.
    """

    line: int
    reason_code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason_code": self.reason_code, "message": self.message}
