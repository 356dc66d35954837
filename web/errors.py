"""Errors as the caller reads them: JSON `{"error": {"code", "message"}}`
under /api/, a plain page elsewhere. Never a traceback."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestTimeout

from shared.errors import DomainError
from web.serving.front import MIN_BYTES_PER_WINDOW, WINDOW_SECONDS, Refusal, refusal_of

_DOMAIN_TITLES = {404: "Not found", 409: "Not possible now", 400: "Not possible", 410: "No longer kept"}
_HTTP_CODES = {
    408: "request_too_slow",
    413: "file_too_large",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
}
# What a person can do about an error page, by status: a page that only says
# what went wrong leaves them stuck.
_NEXT_STEPS = {
    400: "Go back, reload the page and try again.",
    404: "Check the address, or find what you were looking for from your products.",
    405: "Go back and use the page's own buttons and links.",
    408: "Try again from a faster or steadier connection.",
    409: "Go back to the list: the state of the item has changed since the page was shown.",
    410: "Upload the file again.",
    413: "Split the file into smaller ones and upload each.",
    429: "Wait that long, then reload the page.",
    500: "Try again in a minute; if it keeps failing, tell your operator the time it happened.",
}


def api_error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="licensecodes"'
    return response


def error_page(title: str, message: str, status: int) -> tuple[str, int]:
    """The page for an error: what went wrong, what to do next, links on."""
    return render_template("error.html", title=title, message=message, next_step=_NEXT_STEPS.get(status)), status


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def answer_front_refusals() -> None:
    """A body the front refused (web.serving.front) is answered here, before
    any other hook, in the caller's language: JSON on the API, a page on the
    screens."""
    refusal = refusal_of(request.environ)
    if refusal is Refusal.TOO_LARGE:
        raise RequestEntityTooLarge()
    if refusal is Refusal.TOO_SLOW:
        raise RequestTimeout(
            f"The request body arrived slower than {MIN_BYTES_PER_WINDOW / WINDOW_SECONDS / 1024:g} KB/s"
            f" over {WINDOW_SECONDS:g} s, so the connection was closed."
        )


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    message = "The form had expired or came from another site, so nothing was done."
    return error_page("Form expired", message, 400)


def _domain_error(error: DomainError) -> ResponseReturnValue:
    status = error.http_status  # each class of shared/errors.py says its own
    if _wants_json():
        return api_error(status, error.code, str(error))
    message = str(error)
    # The domain's messages are written for the API ("there is no upload 7"): a page starts a sentence.
    return error_page(_DOMAIN_TITLES[status], message[:1].upper() + message[1:], status)


def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    if status == 413:
        message = f"The file is larger than the limit of {current_app.config['MAX_CONTENT_LENGTH'] // 2**20} MB."
    else:
        message = error.description or error.name
    # The exception's own headers say what the status needs (Allow on a 405, RFC 9110); its body is ours.
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    if _wants_json():
        response = api_error(status, _HTTP_CODES.get(status, error.name.lower().replace(" ", "_")), message)
        for name, value in headers:
            response.headers.setdefault(name, value)
        return response
    page, status = error_page(error.name, message, status)
    return page, status, headers


def _unexpected_error(error: Exception) -> ResponseReturnValue:
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    message = "Something went wrong on our side. The error was logged; please try again."
    if _wants_json():
        return api_error(500, "internal_error", message)
    return error_page("Server error", message, 500)
