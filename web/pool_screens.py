"""The screens of a product's code pool (docs/product.md#screens): the Stock
tab (counts by status and type, the codes handed out on each of the last 30
days as a chart, days left, backorders), the Allocations tab (find by
reference, each allocation with its codes and its moves, a form to hand
codes out by hand), and the revoke of what is left of a completed request,
behind a page that asks first.

Every change goes through web/pool_actions.py, as the API's do, so that a
screen commits and fills backorders exactly as the API does. Every lookup
goes through the logged-in publisher: another publisher's product,
allocation or request is a 404, exactly like a missing one.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from shared.errors import Conflict, MoveRefused, PoolEmpty, ReferenceConflict
from shared.listings import allocations_of
from shared.models import ALLOCATION_STATUSES, CODE_TYPES, Allocation, Product
from shared.paging import whole_number
from shared.pool import moves
from shared.pool.allocations import Taken, allocation_of, codes_given
from shared.pool.batches import codes_by_status, why_not_revocable
from shared.pool.stock import hand_outs_by_day, stock_of
from shared.products import product_of
from shared.statuses import AllocationMode, AllocationStatus, CodeStatus
from shared.uploads import upload_of
from web import pool_actions
from web.auth import current_publisher_id
from web.database import db
from web.hand_out_form import HandOutForm, read_hand_out
from web.screens import ALL_STATUSES, page_window, sentence

blueprint = Blueprint("pool", __name__)
ALLOCATIONS_PER_PAGE = 20
# Codes listed in an allocation's row; the rest (up to 1,000) behind "N more".
CODES_SHOWN = 5
# The chart's drawing area, in SVG user units, and the space between bars.
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 160, 4
MOVES = {"distribute": moves.distribute, "release": moves.release, "revoke": moves.revoke}


@dataclass(frozen=True)
class DayBar:
    """One day of the chart: where its bar is drawn, and what it stands for."""

    x: int
    width: int
    height: int
    day: datetime.date
    codes: int


@blueprint.get("/products/<int:product_id>/stock")
@login_required
def stock(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    days = hand_outs_by_day(db(), product)
    return render_template(
        "stock.html",
        product=product,
        stock=stock_of(db(), product),
        days=days,
        bars=day_bars(days),
        chart_size=(CHART_WIDTH, CHART_HEIGHT),
        statuses=tuple(CodeStatus),
    )


def day_bars(days: list[tuple[datetime.date, int]]) -> list[DayBar]:
    """A bar a day, scaled to the busiest day."""
    tallest = max((codes for _, codes in days), default=0) or 1
    width = CHART_WIDTH // max(len(days), 1)
    return [
        DayBar(
            x=index * width, width=width - BAR_GAP, height=round(codes * CHART_HEIGHT / tallest), day=day, codes=codes
        )
        for index, (day, codes) in enumerate(days)
    ]


@blueprint.get("/products/<int:product_id>/allocations")
@login_required
def allocations(product_id: int) -> ResponseReturnValue:
    return _allocations_page(product_of(db(), current_publisher_id(), product_id), HandOutForm())


@blueprint.post("/products/<int:product_id>/allocations")
@login_required
def hand_out(product_id: int) -> ResponseReturnValue:
    """The form's take: each problem beside its field (400), a refusal of
    the pool beside the field it is about (409), or on to the allocation."""
    product = product_of(db(), current_publisher_id(), product_id)
    form = read_hand_out(request.form)
    if form.problems or form.ask is None:
        return _allocations_page(product, form), 400
    try:
        taken = pool_actions.take_codes(current_publisher_id(), product, form.ask)
    except PoolEmpty as refusal:
        return _allocations_page(product, form.refused("quantity", sentence(str(refusal)))), 409
    except ReferenceConflict as refusal:
        return _allocations_page(product, form.refused("reference", sentence(str(refusal)))), 409
    flash(_taken_message(taken))
    return redirect(_allocations_of(taken.allocation), 303)


def _allocations_page(product: Product, form: HandOutForm) -> str:
    reference = request.args.get("reference", "").strip()
    status = request.args.get("status", "").strip() or ALL_STATUSES
    listing = allocations_of(
        db(),
        product,
        page_window(ALLOCATIONS_PER_PAGE, whole_number),
        reference=reference or None,
        status=None if status == ALL_STATUSES else status,
    )
    # What the pager's links carry along, without empty parameters.
    filters = {
        name: value for name, value in (("reference", reference), ("status", status)) if value not in ("", ALL_STATUSES)
    }
    return render_template(
        "allocations.html",
        product=product,
        listing=listing,
        codes=codes_given(db(), listing.items),
        codes_shown=CODES_SHOWN,
        moves_of=moves.moves_of,
        reference=reference,
        status=status,
        statuses=(ALL_STATUSES, *ALLOCATION_STATUSES),
        filters=filters,
        form=form,
        code_types=CODE_TYPES,
        modes=tuple(AllocationMode),
    )


def _taken_message(taken: Taken) -> str:
    allocation = taken.allocation
    named = f"Allocation {allocation.id} ({allocation.reference})"
    codes = f"{allocation.quantity} {allocation.code_type} code{'s' if allocation.quantity != 1 else ''}"
    if taken.replayed:
        return f"{named} was made before for this reference: it is shown again, and nothing new was taken."
    if allocation.status == AllocationStatus.BACKORDERED:
        return f"{named} waits for {codes}: it is filled as soon as the pool holds them."
    if allocation.status == AllocationStatus.RESERVED:
        until = allocation.expires_at.astimezone(datetime.UTC) if allocation.expires_at else None
        return f"{named}: {codes} reserved until {until:%Y-%m-%d %H:%M} UTC."
    return f"{named}: {codes} distributed."


@blueprint.post("/allocations/<int:allocation_id>/distribute")
@login_required
def distribute(allocation_id: int) -> ResponseReturnValue:
    return _move("distribute", allocation_id)


@blueprint.post("/allocations/<int:allocation_id>/release")
@login_required
def release(allocation_id: int) -> ResponseReturnValue:
    return _move("release", allocation_id)


@blueprint.post("/allocations/<int:allocation_id>/revoke")
@login_required
def revoke(allocation_id: int) -> ResponseReturnValue:
    return _move("revoke", allocation_id)


# What each move did, after "Allocation 7 (order-1) is …".
_MOVED = {
    AllocationStatus.DISTRIBUTED: "its codes are handed out for good",
    AllocationStatus.RELEASED: "its codes, if it held any, are back in the pool",
    AllocationStatus.REVOKED: "its codes will never be handed out again",
}


def _move(verb: str, allocation_id: int) -> ResponseReturnValue:
    """Back to the allocation on its tab, with what happened or why not."""
    allocation = allocation_of(db(), current_publisher_id(), allocation_id)
    back = redirect(_allocations_of(allocation), 303)
    try:
        moved = pool_actions.move(MOVES[verb], current_publisher_id(), allocation_id)
    except MoveRefused as refusal:
        flash(sentence(str(refusal)), "error")
        return back
    flash(f"Allocation {moved.id} ({moved.reference}) is {moved.status}: {_MOVED[AllocationStatus(moved.status)]}.")
    return back


def _allocations_of(allocation: Allocation) -> str:
    """The Allocations tab found by the allocation's reference: it alone."""
    return url_for("pool.allocations", product_id=allocation.product_id, reference=allocation.reference)


@blueprint.get("/uploads/<int:upload_id>/revoke")
@login_required
def confirm_revoke(upload_id: int) -> ResponseReturnValue:
    """The page that asks before a batch revoke: what will be revoked, and what will not."""
    upload = upload_of(db(), current_publisher_id(), upload_id)
    refusal = why_not_revocable(upload)
    if refusal:
        raise Conflict(refusal)
    return render_template("revoke_request.html", upload=upload, code_statuses=codes_by_status(db(), upload.id))


@blueprint.post("/uploads/<int:upload_id>/revoke")
@login_required
def revoke_request(upload_id: int) -> ResponseReturnValue:
    """Rendered in the response, not flashed after a redirect: it may name a
    thousand allocations. Sent again, it revokes nothing more and names the same."""
    upload = upload_of(db(), current_publisher_id(), upload_id)
    done = pool_actions.revoke_batch(current_publisher_id(), upload_id)
    return render_template("revoked.html", upload=upload, done=done)


@blueprint.app_template_filter("days")
def _days(days: float) -> str:
    """Days left as a person reads them: "12.5", "863", "1,204"."""
    return f"{days:,.0f}" if days >= 100 else f"{days:.1f}".removesuffix(".0")
