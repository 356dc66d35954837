"""One database session per web request, opened on first use. The view
commits what it changes; anything uncommitted is rolled back at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from shared.db import make_engine, make_sessions


def init_app(app: Flask, database_url: str) -> None:
    engine = make_engine(database_url)
    app.extensions["licensecodes.engine"] = engine
    app.extensions["licensecodes.sessions"] = make_sessions(engine)
    app.teardown_appcontext(_close_session)


def db() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["licensecodes.sessions"]()
    session: Session = g.db_session
    return session


def _close_session(exception: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
