"""The operator page, `GET /operator`: the queue of every publisher, for the
people who run the service (users with `is_operator`, granted by
`licensecodes grant-operator`).

Requests are shown by id, publisher, product, size, state and times; the
queries (shared.queue_view) read no code, key or file name. Below them, the
child processes `licensecodes serve` restarted (shared.process_restarts). To anyone else
logged in the page responds 404, as if it did not exist: a publisher learns
nothing about the other publishers, not even that there is such a page.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from shared.code_counts import totals_by_status
from shared.process_restarts import ProcessDeath, recent_deaths
from shared.queue_view import (
    CHART_BUCKET_MINUTES,
    ChartBucket,
    decisions_last_hour,
    decisions_per_bucket,
    pending_requests,
    withheld_duplicates,
)
from shared.statuses import RequestStatus
from web.database import db

blueprint = Blueprint("operator", __name__)

# The chart's drawing area, in SVG user units.
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 160, 4


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: where it is drawn, and what it stands for."""

    x: int
    width: int
    completed_height: int
    rejected_height: int
    bucket: ChartBucket


@blueprint.get("/operator")
@login_required
def queue() -> ResponseReturnValue:
    if not current_user.is_operator:
        abort(404)
    connection = db().connection()
    buckets = decisions_per_bucket(connection)
    rejections = [d for d in decisions_last_hour(connection) if d.outcome == RequestStatus.REJECTED]
    page = render_template(
        "operator.html",
        queued=pending_requests(connection, RequestStatus.QUEUED),
        processing=pending_requests(connection, RequestStatus.PROCESSING),
        rejections=sorted(rejections, key=lambda d: (-d.last_hour, d.reason_code)),
        withheld=withheld_duplicates(connection),
        codes=totals_by_status(connection),
        buckets=buckets,
        bars=chart_bars(buckets),
        chart_size=(CHART_WIDTH, CHART_HEIGHT),
        bucket_minutes=CHART_BUCKET_MINUTES,
        deaths=process_deaths(),
    )
    return page


def process_deaths() -> list[ProcessDeath] | None:
    """The recent deaths of serve's children; None when Redis cannot say,
    which must not take the rest of the page with it."""
    try:
        return recent_deaths(current_app.extensions["licensecodes.redis"])
    except (redis.RedisError, OSError):
        return None


def chart_bars(buckets: list[ChartBucket]) -> list[Bar]:
    """Stacked bars (completed below, rejected above) scaled to the busiest stretch."""
    tallest = max((b.completed + b.rejected for b in buckets), default=0) or 1
    width = CHART_WIDTH // max(len(buckets), 1)
    return [
        Bar(
            x=index * width,
            width=width - BAR_GAP,
            completed_height=round(bucket.completed * CHART_HEIGHT / tallest),
            rejected_height=round(bucket.rejected * CHART_HEIGHT / tallest),
            bucket=bucket,
        )
        for index, bucket in enumerate(buckets)
    ]
