"""The pool's pure rules: what is wrong with each field of a take, and
which moves apply to an allocation in each status."""

from __future__ import annotations

from shared.pool.allocations import Ask
from shared.pool.moves import MOVES_FROM, moves_of
from shared.statuses import AllocationStatus


def test_each_bad_field_of_a_take_is_named_by_itself() -> None:
    ask = Ask(reference=" x", quantity=0, code_type="lifetime", mode="lend", reservation_minutes=0)
    problems = ask.problems_by_field()
    assert list(problems) == ["reference", "quantity", "code_type", "mode", "reservation_minutes"]
    assert all(message.startswith(name) for name, message in problems.items())
    assert ask.problems() == list(problems.values())
    assert Ask(reference="order-1").problems_by_field() == {}
    assert Ask(reference="").problems_by_field() == {
        "reference": "reference must be 1 to 200 printable characters, not ''"
    }


def test_the_moves_offered_are_those_that_apply_to_the_status() -> None:
    assert moves_of(AllocationStatus.RESERVED) == ["distribute", "release", "revoke"]
    assert moves_of(AllocationStatus.DISTRIBUTED) == ["revoke"]
    assert moves_of(AllocationStatus.BACKORDERED) == ["release"]
    for status in (AllocationStatus.RELEASED, AllocationStatus.EXPIRED, AllocationStatus.REVOKED):
        assert moves_of(status) == []
    assert set(MOVES_FROM) == {"distribute", "release", "revoke"}
