"""The web tier: gunicorn's master over asynchronous workers, each an
HTTP server (hypercorn) in front of the Flask app, which runs on a few
threads and only ever sees complete requests (docs/architecture.md#the-web-tier)."""

from web.serving.master import run_web_server

__all__ = ["run_web_server"]
