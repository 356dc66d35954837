"""The Allocations tab's form to hand out codes by hand: its fields as
typed, read into a take (shared.pool.allocations.Ask), with what is wrong
with each field by its name, so that the screen shows each message beside
its field and keeps what was typed (docs/product.md#screens)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.models import CODE_TYPES
from shared.paging import is_whole_number
from shared.pool.allocations import DEFAULT_RESERVATION_MINUTES, Ask
from shared.statuses import AllocationMode

# The form's text fields and what each holds before anything is typed.
BLANK = {
    "reference": "",
    "quantity": "1",
    "code_type": CODE_TYPES[0],
    "mode": AllocationMode.DISTRIBUTE.value,
    "reservation_minutes": str(DEFAULT_RESERVATION_MINUTES),
}
_WHOLE_NUMBERS = ("quantity", "reservation_minutes")
# Longer numbers are not read (every range of the pool is far below): Python
# refuses to read very long ones, and a message should not repeat a page of digits.
MAX_DIGITS = 18


@dataclass(frozen=True)
class HandOutForm:
    # The take asked for: to be sent on only when there are no problems.
    ask: Ask | None = None
    values: dict[str, str] = field(default_factory=lambda: dict(BLANK))
    backorder: bool = False
    # A message by field name.
    problems: dict[str, str] = field(default_factory=dict)

    def refused(self, name: str, message: str) -> HandOutForm:
        """The same form, with the domain's refusal beside field `name`."""
        return HandOutForm(self.ask, self.values, self.backorder, {**self.problems, name: message})


def read_hand_out(form: Mapping[str, str]) -> HandOutForm:
    """The posted form, checked field by field."""
    values = {name: form.get(name, "") for name in BLANK}
    backorder = form.get("backorder") == "true"
    problems: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for name in _WHOLE_NUMBERS:
        raw = values[name].strip()
        if name == "reservation_minutes" and values["mode"] != AllocationMode.RESERVE:
            numbers[name] = DEFAULT_RESERVATION_MINUTES  # only a reservation has minutes: what was typed is not read
        elif not raw:
            problems[name] = f"{name} is required"
        elif not is_whole_number(raw):
            problems[name] = f"{name} must be a whole number, not {raw[:40]!r}"
        elif len(raw) > MAX_DIGITS:
            problems[name] = f"{name} must be a whole number of at most {MAX_DIGITS} digits"
        else:
            numbers[name] = int(raw)
    ask = _ask(values, backorder, numbers)
    problems = ask.problems_by_field() | problems
    return HandOutForm(ask, values, backorder, {name: _sentence(message) for name, message in problems.items()})


def _ask(values: Mapping[str, str], backorder: bool, numbers: Mapping[str, int]) -> Ask:
    """The take asked for; a number that could not be read stands in by its
    default, so that the other fields are checked all the same."""
    return Ask(
        reference=values["reference"],
        quantity=numbers.get("quantity", 1),
        code_type=values["code_type"],
        mode=values["mode"],
        reservation_minutes=numbers.get("reservation_minutes", DEFAULT_RESERVATION_MINUTES),
        backorder=backorder,
    )


def _sentence(message: str) -> str:
    """The domain's message for the API ("quantity must be …") as a screen
    shows it beside the field: the field named as its label names it."""
    name, _, rest = message.partition(" ")
    label = name.replace("_", " ").capitalize()
    return f"{label} {rest}" + ("" if rest.endswith(".") else ".")
