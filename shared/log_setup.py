"""How every process of the service logs: one handler on stderr, in the
format LOG_FORMAT chooses.

"json" (the default): one JSON object a line, with timestamp, level, logger
and message, plus request_id and publisher_id on a line about one
(shared.log_context), for log collectors; a traceback stays inside its
line, as `exc_info`. "text": the same lines for people reading a terminal.
The message text is the same in both, so a grep for `upload 12: completed`
finds the line either way.
"""

from __future__ import annotations

import logging.config
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig dictionary (gunicorn takes it as its
    `logconfig_dict`, and configures its own loggers from it too)."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": log_format,
        "filters": ["context"],
    }
    one_handler = {"level": "INFO", "handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        # Loggers made at import (module-level getLogger) must keep logging.
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "shared.log_context.ContextFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
            },
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {"stderr": handler},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        # gunicorn's own loggers do not propagate: they get the handler themselves.
        "loggers": {"gunicorn.error": one_handler, "gunicorn.access": one_handler},
    }


def configure_logging(log_format: str) -> None:
    logging.config.dictConfig(logging_config(log_format))
