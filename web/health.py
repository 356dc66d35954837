"""`GET /healthz`: 200 when the database and the broker answer, 503 naming
the one that does not. No authentication: load balancers call it."""

from __future__ import annotations

import redis
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.broker import redis_client
from web.database import db

blueprint = Blueprint("health", __name__)


def init_app(app: Flask, redis_url: str) -> None:
    app.extensions["licensecodes.redis"] = redis_client(redis_url)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    checks = {"database": _database_answers(), "broker": _broker_answers()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"} | {k: "ok" if v else "down" for k, v in checks.items()}
    return jsonify(body), 200 if healthy else 503


def _database_answers() -> bool:
    try:
        session = db()
        session.execute(text("SET LOCAL statement_timeout = 2000"))
        return session.execute(text("SELECT 1")).scalar() == 1
    except SQLAlchemyError:
        current_app.logger.warning("healthz: the database does not answer", exc_info=True)
        return False


def _broker_answers() -> bool:
    try:
        return bool(current_app.extensions["licensecodes.redis"].ping())
    except (redis.RedisError, OSError):
        current_app.logger.warning("healthz: the broker does not answer", exc_info=True)
        return False
