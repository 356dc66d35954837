"""The `licensecodes` program. The publishers' commands (`upload`, `generate`, `status`,
`download`, `take`, `stock`) run from here without importing the server: a
publisher's machine needs only a URL and an API key, and the client starts
in a fraction of the time Flask and Celery take to import. Every other command
is the operator's and goes to the server's command line (web/cli.py), which
lists the publishers' commands in its --help as well."""

from __future__ import annotations

import sys

import click

from client.commands import COMMANDS

PUBLISHER_COMMANDS = {command.name: command for command in COMMANDS}


@click.group()
def publisher_cli() -> None:
    """licensecodes: the publishers' commands."""


for _command in COMMANDS:
    publisher_cli.add_command(_command)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in PUBLISHER_COMMANDS:
        publisher_cli.main(prog_name="licensecodes")
    else:
        from web.cli import main as server_main

        server_main()
