"""What every response carries for the browser's protection, and CSRF
protection on every cookie-authenticated form; the API, which takes only a
Bearer key in the Authorization header, is exempt from CSRF (a browser never
sends that header on its own).

The headers go on pages, API responses, downloads and error pages alike: a
downloaded codes file must never be sniffed into HTML, and no page of ours
may be framed by another site (clickjacking). The pages load scripts and
styles from /static only, with no inline code, so the policy can be strict.

Every response but a static file is sent `Cache-Control: no-store`: codes,
keys and error reports (which name codes) must stay in no cache, shared or
the browser's, and one rule for every route cannot miss a new page that
shows them. Nothing else we send is worth caching.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.after_request(_protective_headers)


def _protective_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
