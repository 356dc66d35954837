"""`licensecodes upload`, `generate`, `status`, `download`, `take` and `stock`: the
publishers' side of the command line. Plain click commands, not Flask ones: they must not build
the app, and so never start or open a database."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from client import progress
from client.api import DEFAULT_URL, PublisherApi
from client.errors import EXIT_OK, EXIT_STATUS_HELP
from client.outcome import details, exit_status, verdict
from client.pool_output import stock_table, taken

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_WAIT_SECONDS = 30 * 60  # longer than the default processing window (docs/product.md#processing)


def _server_options(command: F) -> F:
    """--url and --api-key, each also read from the environment."""
    command = click.option(
        "--api-key",
        envvar="LICENSECODES_API_KEY",
        show_envvar=True,
        required=True,
        help="the publisher's API key (lc_...); the environment keeps it out of shell histories",
    )(command)
    return click.option(
        "--url", envvar="LICENSECODES_URL", show_envvar=True, default=DEFAULT_URL, show_default=True,
        help="the licensecodes server",
    )(command)  # fmt: skip


def _waiting_options(command: F) -> F:
    """--wait and --timeout, for the commands that create a request."""
    command = click.option(
        "--timeout", type=click.FloatRange(min=0), default=DEFAULT_WAIT_SECONDS, show_default=True,
        help="seconds to wait with --wait",
    )(command)  # fmt: skip
    return click.option("--wait", is_flag=True, help="wait for the Code Generator's decision and print it")(command)


def _print_verdict(decided: dict[str, Any]) -> None:
    for line in verdict(decided):
        click.echo(line)
    sys.exit(exit_status(decided))


@click.command(epilog=EXIT_STATUS_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--product", "product_id", type=int, required=True, help="the ProductID the codes are for")
@click.option("--evaluation", is_flag=True, help="evaluation codes (activation codes otherwise)")
@click.option("--dry-run", is_flag=True, help="check the file and summarise it; store nothing")
@_waiting_options
@_server_options
def upload(
    file: Path, product_id: int, evaluation: bool, dry_run: bool, wait: bool, timeout: float, url: str, api_key: str
) -> None:
    """Upload FILE (TXT or CSV) of license codes for a product.

    The file is streamed, never read whole. Without --wait it prints the new
    request's id once the server has accepted the file (exit 0); with
    --wait, the outcome: the codes stored, or every problem with its line.
    """
    with PublisherApi(url, api_key) as api:
        api.product(product_id)  # a bad key or product says so before a large file is sent
        with progress.bytes_sent_bar(file.stat().st_size) as advance:
            accepted = api.upload(file, product_id, evaluation=evaluation, dry_run=dry_run, on_sent=advance)
        click.echo(f"upload {accepted['id']} accepted: {accepted['status']}, deadline {accepted['deadline_at']}")
        if not wait:
            return
        decided = progress.until_decided(api, accepted, timeout)
    _print_verdict(decided)


@click.command(epilog=EXIT_STATUS_HELP)
@click.option("--product", "product_id", type=int, required=True, help="the ProductID the codes are for")
@click.option("--quantity", type=int, required=True, help="how many codes to make (1 to 2,000,000)")
@click.option("--length", type=int, help="random characters a code  [server default: 20]")
@click.option("--group", type=int, help="characters a group, 0 for none  [server default: 5]")
@click.option("--alphabet", help="the characters to draw from  [server default: 23456789ABCDEFGHJKLMNPQRSTUVWXYZ]")
@click.option("--evaluation", is_flag=True, help="evaluation codes (activation codes otherwise)")
@click.option("--dry-run", is_flag=True, help="report the format, an example and its strength; make nothing")
@_waiting_options
@_server_options
def generate(
    product_id: int,
    quantity: int,
    length: int | None,
    group: int | None,
    alphabet: str | None,
    evaluation: bool,
    dry_run: bool,
    wait: bool,
    timeout: float,
    url: str,
    api_key: str,
) -> None:
    """Have the server make codes for a product, with its prefix.

    Without --wait it prints the new request's id once the server has
    queued it (exit 0); with --wait, the outcome. A format too weak or a bad
    value is refused at once, naming what to change.
    """
    chosen = {"length": length, "group": group, "alphabet": alphabet}
    asked = {
        "quantity": quantity,
        "code_type": "evaluation" if evaluation else "activation",
        "dry_run": dry_run,
        "format": {name: value for name, value in chosen.items() if value is not None},
    }
    with PublisherApi(url, api_key) as api:
        accepted = api.generate(product_id, asked)
        click.echo(f"generation {accepted['id']} accepted: {accepted['status']}, deadline {accepted['deadline_at']}")
        if not wait:
            return
        decided = progress.until_decided(api, accepted, timeout)
    _print_verdict(decided)


@click.command(epilog=EXIT_STATUS_HELP)
@click.argument("upload_id", metavar="ID", type=int)
@_server_options
def status(upload_id: int, url: str, api_key: str) -> None:
    """Print the state of upload request ID: deadline, counts and problems.

    The exit status tells the state: 0 completed, 1 rejected, 4 still
    queued or processing.
    """
    with PublisherApi(url, api_key) as api:
        upload_request = api.upload_request(upload_id)
    for line in details(upload_request):
        click.echo(line)
    if upload_request["status"] == "rejected":
        for line in verdict(upload_request)[1:]:
            click.echo(line)
    sys.exit(exit_status(upload_request))


@click.command(epilog=EXIT_STATUS_HELP)
@click.argument("upload_id", metavar="ID", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="write to this file (stdout otherwise)")  # fmt: skip
@click.option("--errors", is_flag=True, help="the error report (errors.csv) of a rejected request, not its codes")
@_server_options
def download(upload_id: int, output: Path | None, errors: bool, url: str, api_key: str) -> None:
    """Download the codes of completed upload ID as .txt (streamed).

    With --errors, the CSV report of every problem of a rejected one.
    """
    route = f"/api/v1/uploads/{upload_id}/" + ("errors.csv" if errors else "codes.txt")
    with PublisherApi(url, api_key) as api:
        chunks = api.stream(route)
        if output is None:
            _write(chunks, sys.stdout.buffer)
        else:
            _write_file(chunks, output)
    sys.exit(EXIT_OK)


def _write(chunks: Iterator[bytes], sink: BinaryIO) -> None:
    for chunk in chunks:
        sink.write(chunk)
    sink.flush()


def _write_file(chunks: Iterator[bytes], output: Path) -> None:
    """No half-written file left behind when the download breaks off."""
    try:
        with output.open("wb") as sink:
            _write(chunks, sink)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    click.echo(f"wrote {output} ({output.stat().st_size} bytes)", err=True)


@click.command(epilog=EXIT_STATUS_HELP)
@click.option("--product", "product_id", type=int, required=True, help="the ProductID to take codes of")
@click.option(
    "--reference", required=True, help="your order or order line: the same reference again gives the same codes"
)
@click.option("--quantity", type=int, default=1, show_default=True, help="how many codes: all of them, or none")
@click.option("--evaluation", is_flag=True, help="evaluation codes (activation codes otherwise)")
@click.option("--reserve", is_flag=True, help="hold the codes for 30 minutes instead of handing them out for good")
@_server_options
def take(
    product_id: int, reference: str, quantity: int, evaluation: bool, reserve: bool, url: str, api_key: str
) -> None:
    """Take codes of a product from its pool for a reference.

    Prints the codes, one a line, on stdout; what became of them on stderr.
    Sending the same reference again prints the same codes and takes
    nothing more, so a script can retry safely.
    """
    ask = {
        "reference": reference,
        "quantity": quantity,
        "code_type": "evaluation" if evaluation else "activation",
        "mode": "reserve" if reserve else "distribute",
    }
    with PublisherApi(url, api_key) as api:
        allocation, replayed = api.take(product_id, ask)
    codes, note, exit_code = taken(allocation, replayed)
    for code in codes:
        click.echo(code)
    click.echo(note, err=True)
    sys.exit(exit_code)


@click.command(epilog=EXIT_STATUS_HELP)
@click.option("--product", "product_id", type=int, required=True, help="the ProductID")
@_server_options
def stock(product_id: int, url: str, api_key: str) -> None:
    """Print a product's stock: its codes by status and code type, the
    codes handed out in the last 7 days, the days left at that rate, and
    whether each type is below the product's low-stock threshold."""
    with PublisherApi(url, api_key) as api:
        counts = api.stock(product_id)
    for line in stock_table(counts):
        click.echo(line)
    sys.exit(EXIT_OK)


COMMANDS = (upload, generate, status, download, take, stock)
