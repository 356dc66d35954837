"""The production WSGI server: gunicorn, run in-process so that this
process (the master) is the one holding the embedded services."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from shared.config import Settings
from shared.log_setup import logging_config
from web import create_app


class WebServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in each worker after the fork: every worker opens its own
        # database pool rather than sharing the master's sockets.
        return create_app(self._settings)


def run_web_server(settings: Settings, *, workers: int, threads: int) -> None:
    WebServer(
        settings,
        {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            # Large uploads stream for longer than gunicorn's default 30 s.
            "timeout": 300,
            "graceful_timeout": 10,
            "accesslog": "-",
            # The path without its query string: a client that puts its API
            # key in a URL (refused, web.api) must not get it logged either.
            "access_log_format": '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s',
            "errorlog": "-",
            # Set up in the master before the workers fork: the app's own
            # loggers, gunicorn's error and access logs, in LOG_FORMAT.
            "logconfig_dict": logging_config(settings.log_format),
            "proc_name": "licensecodes-web",
        },
    ).run()
