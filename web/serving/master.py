"""The web server: gunicorn's master, run in-process so that this process is
the one holding the embedded services, over asynchronous workers
(web.serving.http_worker) that put the buffering front (web.serving.front)
before the Flask app."""

from __future__ import annotations

from typing import Any, cast

from a2wsgi import WSGIMiddleware
from gunicorn.app.base import BaseApplication

from shared.config import Settings
from shared.log_setup import logging_config
from web import create_app
from web.serving.front import BufferingFront
from web.serving.http_worker import AsyncWorker


class WebServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any], threads: int) -> None:
        self._settings = settings
        self._options = options
        self._threads = threads
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> BufferingFront:
        # Called in each worker after the fork: every worker opens its own
        # database pool rather than sharing the master's sockets.
        app = create_app(self._settings)
        # cast: a2wsgi declares the environ as a TypedDict, Flask takes any dict.
        threads = WSGIMiddleware(cast(Any, app), workers=self._threads)
        return BufferingFront(threads, app.config["MAX_CONTENT_LENGTH"])


def run_web_server(settings: Settings, *, workers: int, threads: int) -> None:
    WebServer(
        settings,
        {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "worker_class": AsyncWorker,
            # The master restarts a worker whose event loop has not answered
            # for this long; requests themselves may take longer.
            "timeout": 30,
            "graceful_timeout": 10,
            # In hypercorn's terms (its H is "1.1"). The path without its query
            # string: a client that puts its API key in a URL (refused,
            # web.api) must not get it logged either.
            "access_log_format": '%(h)s %(t)s "%(m)s %(U)s HTTP/%(H)s" %(s)s %(b)s %(L)s',
            "accesslog": "-",
            "errorlog": "-",
            # Set up in the master before the workers fork: the app's own
            # loggers, gunicorn's error and access logs, in LOG_FORMAT.
            "logconfig_dict": logging_config(settings.log_format),
            "proc_name": "licensecodes-web",
        },
        threads,
    ).run()
