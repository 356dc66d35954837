"""The screens of one product (docs/product.md#screens): Upload Codes (send a file,
watch its requests, delete a queued one, download the codes of a completed
one), the page of one request (its times, checksums, codes or problems,
and how many of its codes are in each status) and the Code View (search by
prefix, filter by status, paginate). The pool's screens are in
web/pool_screens.py.

Every lookup goes through the logged-in publisher: another publisher's
product or request is a 404, exactly like a missing one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from flask_wtf.csrf import CSRFError, same_origin, validate_csrf
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError

from shared.code_counts import counts_of_products
from shared.errors import Conflict, DomainError, InvalidValue
from shared.generation.shape import CodeFormat
from shared.listings import codes_of, uploads_of
from shared.loading.progress import checked_so_far
from shared.models import CODE_STATUSES, CODE_TYPES
from shared.paging import Key, Window, checked_code_cursor, checked_page, whole_number
from shared.pool.allocations import references_of
from shared.pool.batches import codes_by_status, why_not_revocable
from shared.products import product_of
from shared.statuses import RequestStatus
from shared.uploads import confirmed_among, upload_of, why_no_codes, why_no_report
from web import upload_actions
from web.accept import accept_upload
from web.auth import current_publisher_id
from web.database import db
from web.downloads import codes_response, errors_response
from web.security import csrf
from web.serialize import iso

blueprint = Blueprint("screens", __name__)
UPLOADS_PER_PAGE = 20
CODES_PER_PAGE = 50
ALL_STATUSES = "all"


@blueprint.get("/products/<int:product_id>/uploads")
@login_required
def uploads(product_id: int) -> ResponseReturnValue:
    return render_template("uploads.html", code_types=CODE_TYPES, **_requests_table(product_id))


@blueprint.get("/products/<int:product_id>/uploads/table")
@login_required
def uploads_table(product_id: int) -> ResponseReturnValue:
    """The table alone, for the script that refreshes it (static/uploads.js)."""
    return render_template("uploads_table.html", **_requests_table(product_id))


def _requests_table(product_id: int) -> dict[str, Any]:
    product = product_of(db(), current_publisher_id(), product_id)
    listing = uploads_of(
        db(), current_publisher_id(), page_window(UPLOADS_PER_PAGE, whole_number), product_id=product_id
    )
    rows = listing.items
    pending = any(row.is_pending for row in rows)
    confirmed = confirmed_among(db(), [row.id for row in rows if row.dry_run and row.is_completed])
    now = _database_now() if pending else None
    return {
        "product": product,
        "uploads": rows,
        "listing": listing,
        # The table refreshes the page it shows (static/uploads.js).
        "window_args": {name: request.args[name] for name in ("after", "before", "page") if name in request.args},
        "pending": pending,
        "confirmed": confirmed,
        "deadlines": {row.id: _minutes_left(row.deadline_at, now) for row in rows if now and row.is_pending},
    }


def _database_now() -> datetime.datetime:
    """The database's clock: the one that set the deadlines, whatever this host's says."""
    return db().execute(select(func.now())).scalar_one()


def _minutes_left(deadline: datetime.datetime, now: datetime.datetime) -> str | None:
    """The time left to a pending request's deadline, as "18 min left"; None once it has passed."""
    seconds = (deadline - now).total_seconds()
    if seconds <= 0:
        return None
    minutes = int(seconds // 60)
    return f"{minutes} min left" if minutes else "under 1 min left"


@blueprint.get("/uploads/<int:upload_id>")
@login_required
def upload_page(upload_id: int) -> ResponseReturnValue:
    return _request_page(upload_id, fragment=False)


@blueprint.get("/uploads/<int:upload_id>/fragment")
@login_required
def upload_fragment(upload_id: int) -> ResponseReturnValue:
    """The page's content alone, without the layout or its flashed messages,
    for the script that refreshes it while the request is pending (static/uploads.js)."""
    return _request_page(upload_id, fragment=True)


def _request_page(upload_id: int, *, fragment: bool) -> ResponseReturnValue:
    upload = upload_of(db(), current_publisher_id(), upload_id)
    # A CSV request may span several products: then it has none of its own.
    product = product_of(db(), current_publisher_id(), upload.product_id) if upload.product_id else None
    # Counted on the whole page only, never on the fragment a script fetches every second or two.
    revocable = not fragment and why_not_revocable(upload) is None
    page = render_template(
        "upload.html",
        upload=upload,
        product=product,
        time_left=_time_left(upload.deadline_at),
        pending=upload.is_pending,
        fragment=fragment,
        code_statuses=codes_by_status(db(), upload.id) if revocable else None,
        code_format=CodeFormat(**upload.generation["format"]) if upload.generation else None,
    )
    return page


def _time_left(deadline: datetime.datetime) -> str:
    """Until the deadline, as the request page shows it."""
    seconds = (deadline - _database_now()).total_seconds()
    return _duration(seconds) if seconds >= 1 else "the deadline has passed"


@blueprint.post("/products/<int:product_id>/uploads")
@login_required
def send_upload(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    back = redirect(url_for("screens.uploads", product_id=product.product_id), 303)
    try:
        upload = accept_upload(current_publisher_id(), product, check_fields=_check_csrf_token)
    except DomainError as refusal:
        flash(sentence(str(refusal)), "error")
        return back
    except RequestEntityTooLarge:
        limit = current_app.extensions["licensecodes.settings"].max_upload_bytes // 2**20
        flash(f"The file is larger than the limit of {limit} MB; nothing was stored.", "error")
        return back
    window = current_app.extensions["licensecodes.settings"].processing_window_minutes
    dry_run = ", a dry run" if upload.dry_run else ""
    flash(f"Upload {upload.id} ({upload.filename}{dry_run}) is queued; it is decided within {window} minutes.")
    return back


# Flask-WTF would parse the multipart body to find the token, spooling the
# file to local disk; accept_upload streams it and hands us the token instead.
csrf.exempt(send_upload)


def _check_csrf_token(fields: dict[str, str]) -> None:
    """What CSRFProtect checks, on the fields the upload stream has parsed.
    Raised before accept_upload commits: a forged form stores nothing."""
    config = current_app.config
    if not config.get("WTF_CSRF_ENABLED", True):
        return
    try:
        validate_csrf(fields.get("csrf_token") or request.headers.get("X-CSRFToken"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None
    if request.is_secure and config.get("WTF_CSRF_SSL_STRICT", True):
        if not request.referrer or not same_origin(request.referrer, f"https://{request.host}/"):
            raise CSRFError("The referrer does not match the host.")


@blueprint.post("/uploads/<int:upload_id>/delete")
@login_required
def delete_upload(upload_id: int) -> ResponseReturnValue:
    upload = upload_of(db(), current_publisher_id(), upload_id)
    filename, product_id = upload.filename, upload.product_id
    back = redirect(_screen_of(product_id), 303)
    try:
        upload_actions.delete(current_publisher_id(), upload_id)
    except Conflict as refusal:
        flash(sentence(str(refusal)), "error")
        return back
    flash(f"Upload {upload_id} ({filename}) is deleted; nothing from it was stored.")
    return back


@blueprint.post("/uploads/<int:upload_id>/confirm")
@login_required
def confirm_upload(upload_id: int) -> ResponseReturnValue:
    """The Import button of a checked file: a real request from the same bytes."""
    upload = upload_of(db(), current_publisher_id(), upload_id)
    back = redirect(_screen_of(upload.product_id), 303)
    try:
        real = upload_actions.confirm(current_publisher_id(), upload_id)
    except Conflict as refusal:
        flash(sentence(str(refusal)), "error")
        return back
    flash(f"Upload {real.id} imports the file checked by dry run {upload_id}; it is queued.")
    return back


@blueprint.get("/uploads/<int:upload_id>/errors.csv")
@login_required
def download_errors(upload_id: int) -> ResponseReturnValue:
    upload = upload_of(db(), current_publisher_id(), upload_id)
    refusal = why_no_report(upload)
    if refusal:
        return render_template("error.html", title="No error report", message=refusal[1]), 409
    return errors_response(upload)


@blueprint.get("/uploads/<int:upload_id>/codes.txt")
@login_required
def download_codes(upload_id: int) -> ResponseReturnValue:
    upload = upload_of(db(), current_publisher_id(), upload_id)
    refusal = why_no_codes(upload)
    if refusal:
        return render_template("error.html", title="No codes to download", message=refusal[1]), 409
    return codes_response(upload)


@blueprint.get("/products/<int:product_id>/codes")
@login_required
def codes(product_id: int) -> ResponseReturnValue:
    product = product_of(db(), current_publisher_id(), product_id)
    prefix = request.args.get("q", "").strip()
    status = request.args.get("status", "").strip() or ALL_STATUSES
    listing = codes_of(
        db(),
        product,
        page_window(CODES_PER_PAGE, checked_code_cursor, jump=True),
        prefix=prefix or None,
        status=None if status == ALL_STATUSES else status,
    )
    # What the pager's links carry along, without empty parameters.
    filters = {name: value for name, value in (("q", prefix), ("status", status)) if value not in ("", ALL_STATUSES)}
    return render_template(
        "codes.html",
        product=product,
        listing=listing,
        counts=counts_of_products(db(), [product.product_id])[product.product_id],
        references=references_of(db(), listing.items),
        q=prefix,
        status=status,
        statuses=(ALL_STATUSES, *CODE_STATUSES),
        filters=filters,
    )


def page_window(limit: int, cursor: Callable[[str | None, str], Key | None], *, jump: bool = False) -> Window[Key]:
    """The page the screen's links ask for (shared.paging): after a cursor
    (Next), before one (Previous), from a code on (the jump of the Code
    View), or by number within the first pages."""
    names = ("after", "before", "from") if jump else ("after", "before")
    given = {name: cursor(request.args.get(name) or None, name) for name in names}
    given = {name: value for name, value in given.items() if value is not None}
    if len(given) > 1:
        raise InvalidValue(f"{' and '.join(given)} both say where the page starts; send one of them")
    page = checked_page(whole_number(request.args.get("page"), "page"), bool(given))
    return Window(limit, given.get("after"), given.get("before"), given.get("from"), page)


def _screen_of(product_id: int | None) -> str:
    if product_id is None:
        return url_for("pages.products")
    return url_for("screens.uploads", product_id=product_id)


def sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


@blueprint.app_template_filter("iso")
def _iso(moment: datetime.datetime | None) -> str:
    return iso(moment) or ""


@blueprint.app_template_filter("utc")
def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


# Beside each status in the requests table, so that it is not told by colour alone.
_STATUS_ICONS = {
    RequestStatus.QUEUED: "◷",
    RequestStatus.PROCESSING: "⟳",
    RequestStatus.COMPLETED: "✓",
    RequestStatus.REJECTED: "✗",
}


@blueprint.app_template_filter("status_icon")
def _status_icon(status: str) -> str:
    return _STATUS_ICONS[RequestStatus(status)]


# A processing request's lines checked and percent, for _macros.html.
blueprint.add_app_template_filter(checked_so_far, "checked_so_far")


@blueprint.app_template_filter("duration")
def _duration(seconds: float) -> str:
    """A stretch of time as people say it: "45 s", "3 min 20 s", "2 h 5 min"."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


@blueprint.app_template_filter("thousands")
def _thousands(number: int) -> str:
    return f"{number:,}"
