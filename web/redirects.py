"""Every redirect is a path on this site, never a URL built from the
caller's Host header (docs/architecture.md#hostile-input).

Our own redirects are relative already (url_for, and the login's `next`,
which web.auth holds to a path). Werkzeug's routing redirects are not: the
merging of doubled slashes (`/api//v1/products`) and the trailing slash of
a rule that has one answer with an absolute URL on the request's Host, so a
forged Host would send the client, or a cache that keeps the answer, to
another site. This hook rewrites them to the path alone before they are sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, request
from werkzeug.routing import RequestRedirect


def init_app(app: Flask) -> None:
    app.before_request(_relative_routing_redirect)


def _relative_routing_redirect() -> None:
    # Routing failed with a redirect: Flask raises it after the before_request hooks have run.
    redirect = request.routing_exception
    if isinstance(redirect, RequestRedirect):
        redirect.new_url = relative(redirect.new_url)


def relative(url: str) -> str:
    """The path and query of `url`. One leading slash only: `//host` or `/\\host`
    would be read by a browser as another host."""
    parts = urlsplit(url)
    return urlunsplit(("", "", "/" + parts.path.lstrip("/\\"), parts.query, ""))
