"""Taking codes for a reference, all or nothing, and finding allocations.

A take is one transaction (docs/architecture.md#the-code-pool):

1. the allocation row is inserted first, ON CONFLICT DO NOTHING on
   (product, reference): a second call with the same reference waits
   there for the first to commit or roll back, then replays it (or, had
   the first taken nothing, takes in its place), so a retried order never
   gets a second set of codes, however the two calls interleave;
2. the codes are picked and locked without waiting (shared.pool.picking);
3. the codes, the counts and the day's hand-outs move, and the allocation
   gets its status.

Fewer codes than asked takes nothing: the caller's transaction is rolled
back (PoolEmpty), or the allocation stays a backorder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shared.code_counts import codes_counted
from shared.errors import InvalidValue, NotFound, PoolEmpty, ReferenceConflict
from shared.models import (
    CODE_TYPES,
    MAX_ALLOCATION_QUANTITY,
    MAX_REFERENCE_LENGTH,
    MAX_RESERVATION_MINUTES,
    Allocation,
    AllocationCode,
    LicenseCode,
    Product,
)
from shared.pool import counts, picking
from shared.pool.picking import PickedCode
from shared.statuses import AllocationMode, AllocationStatus, CodeStatus

DEFAULT_RESERVATION_MINUTES = 30


@dataclass(frozen=True)
class Ask:
    """What a take asks for (docs/product.md#the-code-pool)."""

    reference: str
    quantity: int = 1
    code_type: str = "activation"
    mode: str = AllocationMode.DISTRIBUTE.value
    reservation_minutes: int = DEFAULT_RESERVATION_MINUTES
    backorder: bool = False

    def problems(self) -> list[str]:
        return list(self.problems_by_field().values())

    def problems_by_field(self) -> dict[str, str]:
        """What is wrong with each field, by its name: the screens show
        each message beside its field, the API joins them."""
        problems = {}
        if not 1 <= len(self.reference) <= MAX_REFERENCE_LENGTH or not self.reference.isprintable():
            problems["reference"] = (
                f"reference must be 1 to {MAX_REFERENCE_LENGTH} printable characters, not {self.reference[:40]!r}"
            )
        elif self.reference != self.reference.strip():
            problems["reference"] = "reference must not start or end with whitespace"
        if not 1 <= self.quantity <= MAX_ALLOCATION_QUANTITY:
            problems["quantity"] = f"quantity must be 1 to {MAX_ALLOCATION_QUANTITY}, not {self.quantity}"
        if self.code_type not in CODE_TYPES:
            problems["code_type"] = f"code_type must be one of {', '.join(CODE_TYPES)}, not {self.code_type!r}"
        if self.mode not in AllocationMode.__members__.values():
            problems["mode"] = f"mode must be distribute or reserve, not {self.mode!r}"
        if not 1 <= self.reservation_minutes <= MAX_RESERVATION_MINUTES:
            problems["reservation_minutes"] = (
                f"reservation_minutes must be 1 to {MAX_RESERVATION_MINUTES}, not {self.reservation_minutes}"
            )
        return problems

    def same_as(self, allocation: Allocation) -> bool:
        """A retry of `allocation`: the same quantity, code type and mode."""
        return (allocation.quantity, allocation.code_type, allocation.mode) == (
            self.quantity,
            self.code_type,
            self.mode,
        )


@dataclass(frozen=True)
class Taken:
    allocation: Allocation
    # An earlier call with the same reference made it: nothing was taken now.
    replayed: bool
    # The codes this call gave the allocation, in the order they left the
    # pool; None when it gave none (a replay, a backorder).
    codes: Sequence[PickedCode] | None = None


_INSERT = text(f"""
INSERT INTO allocations (product_id, reference, code_type, quantity, mode, status, reservation_minutes)
VALUES (:product_id, :reference, :code_type, :quantity, :mode, '{AllocationStatus.BACKORDERED}', :minutes)
ON CONFLICT (product_id, reference) DO NOTHING
RETURNING id
""")


def take(session: Session, product: Product, ask: Ask) -> Taken:
    """Hand `ask.quantity` codes of the product to `ask.reference`, or
    replay the allocation that reference already has. The caller commits."""
    problems = ask.problems()
    if problems:
        raise InvalidValue("; ".join(problems))
    params = {
        "product_id": product.product_id,
        "reference": ask.reference,
        "code_type": ask.code_type,
        "quantity": ask.quantity,
        "mode": ask.mode,
        "minutes": ask.reservation_minutes if ask.mode == AllocationMode.RESERVE else None,
    }
    new_id = session.execute(_INSERT, params).scalar()
    if new_id is None:
        return _replayed(session, product, ask)
    picked = None
    if not picking.backorders_wait(session, product.product_id, ask.code_type, new_id):
        picked = picking.pick(session, product.product_id, ask.code_type, ask.quantity)
    allocation = session.get_one(Allocation, new_id)
    if picked is None:
        if not ask.backorder:
            available = codes_counted(session, product.product_id, CodeStatus.AVAILABLE, code_type=ask.code_type)
            raise PoolEmpty(_short_message(ask, available))
        return Taken(allocation, replayed=False)
    fill(session, allocation, picked)
    return Taken(allocation, replayed=False, codes=picked)


def fill(session: Session, allocation: Allocation, picked: Sequence[PickedCode]) -> None:
    """Give the picked codes to the allocation as its mode says: reserved
    until its reservation ends, or distributed.

    The counts move last: every take of a product updates the same count
    rows, each locked from its update to the commit, so whatever a take
    does after them, every other take of the product waits for
    (docs/architecture.md#the-counts-a-take-moves)."""
    reserve = allocation.mode == AllocationMode.RESERVE
    status = CodeStatus.RESERVED if reserve else CodeStatus.DISTRIBUTED
    picking.hand_out(session, allocation.id, picked, status)
    session.execute(
        text(
            "UPDATE allocations SET status = :status, filled_at = now(),"
            " expires_at = CASE WHEN :reserve THEN now() + make_interval(mins => reservation_minutes) END,"
            " distributed_at = CASE WHEN :reserve THEN NULL ELSE now() END"
            " WHERE id = :id"
        ),
        {"status": status.value, "reserve": reserve, "id": allocation.id},
    )
    session.refresh(allocation)
    counts.move(
        session, allocation.product_id, allocation.code_type, {CodeStatus.AVAILABLE: -len(picked), status: len(picked)}
    )
    if not reserve:
        picking.count_distributed(session, allocation.product_id, allocation.code_type, len(picked))


def _replayed(session: Session, product: Product, ask: Ask) -> Taken:
    earlier = session.scalars(
        select(Allocation).where(Allocation.product_id == product.product_id, Allocation.reference == ask.reference)
    ).one()
    if not ask.same_as(earlier):
        raise ReferenceConflict(
            f"the reference {ask.reference!r} already names allocation {earlier.id} "
            f"({earlier.quantity} {earlier.code_type} codes, {earlier.mode}); "
            "send a new reference for a new allocation"
        )
    return Taken(earlier, replayed=True)


def _short_message(ask: Ask, available: int) -> str:
    if available >= ask.quantity:
        # Enough codes, but earlier backorders wait for them, or other takes hold them this moment.
        why = "and earlier backorders are waiting for them, or other takes hold them"
    else:
        why = "so nothing was taken"
    return f"{ask.quantity} {ask.code_type} codes asked and {available} available, {why}"


def allocation_of(session: Session, publisher_id: int, allocation_id: int, *, lock: bool = False) -> Allocation:
    """The publisher's allocation (locked for a move when `lock`); another
    publisher's is not found, exactly like one that does not exist."""
    query = (
        select(Allocation)
        .join(Product, Product.product_id == Allocation.product_id)
        .where(Allocation.id == allocation_id, Product.publisher_id == publisher_id)
    )
    if lock:
        query = query.with_for_update(of=Allocation).execution_options(populate_existing=True)
    allocation = session.scalars(query).one_or_none()
    if allocation is None:
        raise NotFound(f"there is no allocation {allocation_id}")
    return allocation


def codes_given(session: Session, allocations: Iterable[Allocation]) -> dict[int, list[LicenseCode]]:
    """The codes each allocation was given, in the order they were handed
    out, also after they went back to the pool (a release, an expiry)."""
    ids = [allocation.id for allocation in allocations]
    given: dict[int, list[LicenseCode]] = {allocation_id: [] for allocation_id in ids}
    if ids:
        rows = session.execute(
            select(AllocationCode.allocation_id, LicenseCode)
            .join(LicenseCode, LicenseCode.id == AllocationCode.code_id)
            .where(AllocationCode.allocation_id.in_(ids))
            .order_by(AllocationCode.allocation_id, LicenseCode.request_id, LicenseCode.line_no)
        )
        for allocation_id, code in rows:
            given[allocation_id].append(code)
    return given


def references_of(session: Session, codes: Iterable[LicenseCode]) -> dict[int, str]:
    """The reference of each allocation that holds one of these codes (the
    Code View's and the codes API's columns)."""
    ids = {code.allocation_id for code in codes if code.allocation_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Allocation.id, Allocation.reference).where(Allocation.id.in_(ids))).all())
