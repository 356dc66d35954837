"""`GET /metrics`: the service's figures in Prometheus's text format
(shared.metrics), counts and ages only.

Open to whoever reaches the bind address, as operators scrape from inside;
with METRICS_TOKEN set, only to `Authorization: Bearer <METRICS_TOKEN>`.
Neither a login nor an API key is asked, and the API's rate limits do not
count it: a scraper is not a publisher.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from shared.config import Settings
from shared.metrics import ServiceCollector

blueprint = Blueprint("metrics", __name__)


def init_app(app: Flask, settings: Settings) -> None:
    # A registry of its own: the default one would add this one process's
    # figures (memory, CPU), which say nothing about the service.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        ServiceCollector(
            app.extensions["licensecodes.engine"],
            app.extensions["licensecodes.redis"],
            settings.processing_window_minutes * 60,
        )
    )
    app.extensions["licensecodes.metrics"] = registry
    app.register_blueprint(blueprint)


@blueprint.get("/metrics")
def metrics() -> ResponseReturnValue:
    token = current_app.extensions["licensecodes.settings"].metrics_token
    if token is not None and not _bearer_is(token):
        response = jsonify(error="unauthorized", message="Send Authorization: Bearer <METRICS_TOKEN>.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = generate_latest(current_app.extensions["licensecodes.metrics"])
    except SQLAlchemyError:
        current_app.logger.warning("metrics: the database does not answer", exc_info=True)
        return jsonify(error="unavailable", message="The database does not answer."), 503
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bearer_is(token: str) -> bool:
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
