"""CSRF protection on every cookie-authenticated form; the API, which takes
only a Bearer key in the Authorization header, is exempt (a browser never
sends that header on its own)."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
