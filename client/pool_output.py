"""What the client prints about the code pool: the codes of a take, with
what became of them on stderr, and a product's stock as a table."""

from __future__ import annotations

from typing import Any

from client.errors import EXIT_OK, EXIT_PENDING, Refused

# The stock's rows: (what the API calls it, what the table says).
STOCK_ROWS = (
    ("available", "available"),
    ("reserved", "reserved"),
    ("distributed", "distributed"),
    ("revoked", "revoked"),
    ("backordered", "backordered (codes)"),
    ("backorders", "backorders waiting"),
    ("handed_out_last_7_days", "last 7 days"),
    ("days_left", "days left"),
    ("low", "low"),
)
# An allocation in these statuses no longer holds its codes: printing them
# would hand a script codes that are someone else's, or never anyone's.
_GIVEN_UP = {
    "released": "its codes went back to the pool",
    "expired": "its reservation ran out and its codes went back to the pool",
    "revoked": "its codes were revoked",
}


def taken(allocation: dict[str, Any], replayed: bool) -> tuple[list[str], str, int]:
    """What a take prints: the codes (stdout), one line about them (stderr),
    and the exit status. Raises Refused for an allocation that no longer
    holds its codes."""
    named = f"allocation {allocation['id']} (reference {allocation['reference']!r})"
    status = allocation["status"]
    if status in _GIVEN_UP:
        raise Refused(f"{named} is {status}: {_GIVEN_UP[status]}; send a new reference for new codes")
    quantity = allocation["quantity"]
    codes = f"{quantity} {allocation['code_type']} code{'s' if quantity != 1 else ''}"
    if status == "backordered":
        return [], f"{named} is backordered: it waits for {codes}; run the same command later to get them", EXIT_PENDING
    what = f"reserved until {allocation['expires_at']}" if status == "reserved" else "distributed"
    note = f"{named} was made before: the same {codes}, {what}" if replayed else f"{named}: {codes} {what}"
    return [code["code"] for code in allocation["codes"]], note, EXIT_OK


def stock_table(stock: dict[str, Any]) -> list[str]:
    """The product's stock, a row per count and a column per code type."""
    code_types = [name for name, value in stock.items() if isinstance(value, dict)]  # a column each
    cells = [[label, *(_cell(stock[code_type][name]) for code_type in code_types)] for name, label in STOCK_ROWS]
    header = ["", *code_types]
    width = max(len(row[0]) for row in cells)
    columns = [max(len(row[i]) for row in [header, *cells]) for i in range(1, len(header))]

    def line(row: list[str]) -> str:
        values = zip(row[1:], columns, strict=True)
        return f"  {row[0]:<{width}}" + "".join(f"  {value:>{column}}" for value, column in values)

    title = f"product {stock['product_id']}: low-stock threshold {stock['low_stock_threshold']:,}"
    return [title, line(header).rstrip(), *(line(row) for row in cells)]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"
