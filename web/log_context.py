"""Every log line written while a web request is handled names the upload
request its URL is about (`/uploads/<id>/…`, a LicenseSpring job) and,
once the caller is known, the publisher (web.api, web.auth): see
shared.log_context."""

from __future__ import annotations

from flask import Flask, request

from shared import log_context

# The URL variables that hold an upload request's id.
_REQUEST_ID_ARGUMENTS = ("upload_id", "job_id")


def init_app(app: Flask) -> None:
    app.before_request(_about_this_request)
    app.teardown_request(_forget)


def _about_this_request() -> None:
    log_context.clear()  # whatever the thread's previous request left
    arguments = request.view_args or {}
    request_id = next((arguments[name] for name in _REQUEST_ID_ARGUMENTS if name in arguments), None)
    if isinstance(request_id, int):
        log_context.bind(request_id=request_id)


def _forget(exception: BaseException | None) -> None:
    log_context.clear()
