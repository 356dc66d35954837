"""`python -m worker worker|beat [celery options]`: what `licensecodes
worker` and `licensecodes beat` run. A separate entry point keeps the web
package from importing the worker package."""

from __future__ import annotations

import sys

from celery import signals

from shared.broker import BULK_QUEUE, QUEUE, WEBHOOK_QUEUE
from shared.config import Settings
from shared.errors import LicenseCodesError
from shared.log_setup import configure_logging
from shared.services import connect
from worker.app import make_celery


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("worker", "beat"):
        print("usage: python -m worker worker|beat [celery options]", file=sys.stderr)
        return 2
    try:
        settings = connect(Settings.from_env())
    except LicenseCodesError as error:
        print(f"licensecodes {argv[0]}: {error}", file=sys.stderr)
        return 1
    configure_logging(settings.log_format)
    signals.setup_logging.connect(_logging_is_configured)
    app = make_celery(settings)
    if argv[0] == "worker":
        options = argv[1:]
        if not any(option.startswith(("-Q", "--queues")) for option in options):
            options = [f"--queues={QUEUE},{BULK_QUEUE},{WEBHOOK_QUEUE}", *options]  # all, unless told otherwise
        app.worker_main(["worker", "--loglevel=INFO", *options])
    else:
        # The in-memory scheduler: beat's one entry is an interval, so there is
        # nothing worth keeping across restarts, and the default's schedule
        # file, left half-written by a killed beat, stops every later beat
        # ("EOFError: Ran out of input") and with it the sweep.
        app.start(["beat", "--loglevel=INFO", "--scheduler=celery.beat:Scheduler", *argv[1:]])
    return 0


def _logging_is_configured(**kwargs: object) -> None:
    """Connected, this tells Celery (worker, its pool processes and beat)
    to leave logging as configure_logging set it, rather than add a handler
    of its own format."""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
