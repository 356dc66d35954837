"""Taking codes for a reference, all or nothing, and finding allocations.

A take is one statement (shared.pool.take_statement,
docs/architecture.md#a-take-in-one-statement): the oldest available codes
are picked and locked without waiting, the allocation is inserted ON
CONFLICT DO NOTHING on (product, reference), and the codes, the counts and
the day's hand-outs move. A second call with the same reference waits for
the first to commit or roll back, then replays it (or, had the first taken
nothing, takes in its place), so a retried order never gets a second set
of codes, however the two calls interleave.

Fewer codes than asked takes nothing (PoolEmpty), or leaves the allocation
a backorder when the caller allows one."""

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
from shared.pool.take_statement import TAKE
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


def take(session: Session, product: Product, ask: Ask) -> Taken:
    """Hand `ask.quantity` codes of the product to `ask.reference`, or
    replay the allocation that reference already has: one statement
    (shared.pool.take_statement), which commits itself when the session
    runs outside a transaction, as the API's take does; otherwise the
    caller commits."""
    problems = ask.problems()
    if problems:
        raise InvalidValue("; ".join(problems))
    reserve = ask.mode == AllocationMode.RESERVE
    params = {
        "product_id": product.product_id,
        "reference": ask.reference,
        "code_type": ask.code_type,
        "quantity": ask.quantity,
        "mode": ask.mode,
        "status": (CodeStatus.RESERVED if reserve else CodeStatus.DISTRIBUTED).value,
        "minutes": ask.reservation_minutes if reserve else None,
        "reserve": reserve,
        "backorder": ask.backorder,
    }
    rows = session.execute(TAKE, params).all()
    if not rows:
        return _replayed_or_short(session, product, ask)
    made = rows[0]
    if made.status == AllocationStatus.BACKORDERED:
        return Taken(session.get_one(Allocation, made.id), replayed=False)
    allocation = Allocation(
        id=made.id,
        product_id=product.product_id,
        reference=ask.reference,
        code_type=ask.code_type,
        quantity=ask.quantity,
        mode=ask.mode,
        status=made.status,
        reservation_minutes=params["minutes"],
        created_at=made.created_at,
        filled_at=made.filled_at,
        expires_at=made.expires_at,
        distributed_at=made.distributed_at,
    )
    codes = [PickedCode(row.code_id, row.code, row.expiry_days, row.build_no, row.seats) for row in rows]
    return Taken(allocation, replayed=False, codes=codes)


def fill(session: Session, allocation: Allocation, picked: Sequence[PickedCode]) -> None:
    """Give the picked codes to a backorder as its mode says: reserved
    until its reservation ends, or distributed (a take does the same in its
    one statement).

    The counts move last: every take of the product needs the same count
    rows, each locked from its update to the commit, so whatever a fill
    does after them, the takes wait for
    (docs/architecture.md#a-take-in-one-statement)."""
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


def _replayed_or_short(session: Session, product: Product, ask: Ask) -> Taken:
    """The take inserted nothing: the reference names an earlier allocation
    (a replay, or a conflict), or the pool had too few codes to spare."""
    earlier = session.scalars(
        select(Allocation).where(Allocation.product_id == product.product_id, Allocation.reference == ask.reference)
    ).one_or_none()
    if earlier is None:
        available = codes_counted(session, product.product_id, CodeStatus.AVAILABLE, code_type=ask.code_type)
        raise PoolEmpty(_short_message(ask, available))
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
