"""`licensecodes`: the operator's command line (docs/cli.md), a Flask CLI group.

Every command that needs the database or the broker connects through
`shared.services.connect`, so with no URLs set it uses (and if needed
starts) the embedded servers of the data directory.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, ScriptInfo, routes_command, shell_command
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from client import commands as client_commands
from shared.config import Settings
from shared.db import make_engine, make_sessions
from shared.errors import LicenseCodesError
from shared.models import DEFAULT_LOW_STOCK_THRESHOLD
from shared.services import connect

F = TypeVar("F", bound=Callable[..., Any])


def _app_for_flask_commands() -> Flask:
    from web import create_app

    # Every command of the group loads the app first (Flask's AppGroup): a
    # setting refused here is the command's error, one line and status 1.
    try:
        return create_app(connect(Settings.from_env()))
    except LicenseCodesError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=AppGroup)
@click.pass_context
def cli(context: click.Context) -> None:
    """licensecodes: bulk loading of license codes onto a license server."""
    # Flask's own commands (shell, routes) build the app through this, and
    # only when run: `--help` must not start a database.
    context.obj = ScriptInfo(create_app=_app_for_flask_commands, set_debug_flag=False, load_dotenv_defaults=False)


cli.add_command(routes_command)
cli.add_command(shell_command)


def _reports_errors(command: F) -> F:
    """Turn the program's own errors into one clear line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LicenseCodesError as error:
            raise click.ClickException(str(error)) from None
        except OperationalError as error:
            raise click.ClickException(f"cannot reach the database: {error.orig}".strip()) from None
        except ProgrammingError as error:
            if "does not exist" in str(error.orig):
                raise click.ClickException("the database has no schema yet: run `licensecodes db upgrade`") from None
            raise

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def _transaction() -> Iterator[tuple[Session, Settings]]:
    settings = connect(Settings.from_env())
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    try:
        with make_sessions(engine).begin() as session:
            yield session, settings
    finally:
        engine.dispose()


@cli.command()
@_reports_errors
def serve() -> None:
    """Run everything: web server, worker and beat, on one machine."""
    from web.supervisor import serve as run_all

    sys.exit(run_all(Settings.from_env()))


@cli.command()
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--threads", default=4, show_default=True, help="threads per worker process")
@_reports_errors
def web(workers: int, threads: int) -> None:
    """Run the web server (gunicorn over hypercorn) on HOST:PORT."""
    from web.serving import run_web_server

    run_web_server(connect(Settings.from_env()), workers=workers, threads=threads)


def _exec_worker_module(role: str, arguments: tuple[str, ...]) -> None:
    # A process boundary rather than an import: web never imports worker.
    os.execv(sys.executable, [sys.executable, "-m", "worker", role, *arguments])


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_options", nargs=-1, type=click.UNPROCESSED)
def worker(celery_options: tuple[str, ...]) -> None:
    """Run a Celery worker (the Code Generator). Extra options go to Celery."""
    _exec_worker_module("worker", celery_options)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_options", nargs=-1, type=click.UNPROCESSED)
def beat(celery_options: tuple[str, ...]) -> None:
    """Run Celery beat (the periodic sweep). Extra options go to Celery."""
    _exec_worker_module("beat", celery_options)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command()
@click.option("--revision", default="head", show_default=True)
@_reports_errors
def upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION."""
    from shared.migrate import upgrade as run_upgrade

    settings = connect(Settings.from_env())
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    try:
        run_upgrade(engine, revision)
    finally:
        engine.dispose()
    click.echo(f"database upgraded to {revision}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_reports_errors
def backup(file: Path) -> None:
    """Write a backup of the whole database to FILE, while the service runs."""
    from shared.backup.backups import take_backup

    settings = connect(Settings.from_env())
    assert settings.database_url is not None
    with _rows_bar("Backing up") as advance:
        manifest = take_backup(settings.database_url, settings.secret_key, file, advance)
    click.echo(
        f"backed up to {file}: schema {manifest.schema_revision}, {manifest.codes:,} codes, "
        f"{_requests(manifest.requests)}, {file.stat().st_size:,} bytes"
    )
    click.echo(
        f"{file} holds every license code and the server's secret key, and only you can read it: "
        "keep it as safe as the database itself (docs/operating.md#backup-and-restore)"
    )


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace whatever the database holds")
@_reports_errors
def restore(file: Path, force: bool) -> None:
    """Restore the backup FILE into an empty database, then migrate it."""
    from shared.backup.backups import restore_backup
    from shared.config import replace_kept_secret_key

    settings = connect(Settings.from_env())
    assert settings.database_url is not None
    with _rows_bar("Restoring") as advance:
        restored = restore_backup(settings.database_url, file, force=force, progress=advance)
    manifest = restored.manifest
    migrated = (
        f", migrated to {restored.schema_revision}" if restored.schema_revision != manifest.schema_revision else ""
    )
    click.echo(
        f"restored {file} (taken {manifest.created_at}): {manifest.codes:,} codes, {_requests(manifest.requests)}; "
        f"schema {manifest.schema_revision}{migrated}"
    )
    if not os.environ.get("SECRET_KEY"):
        path = replace_kept_secret_key(settings.data_dir, restored.secret_key)
        click.echo(f"the backup's secret key is kept in {path}: its API keys and sessions work here")
    elif os.environ["SECRET_KEY"] != restored.secret_key:
        click.echo(
            "warning: SECRET_KEY differs from the secret key of the backup: the API keys made before the backup "
            f"are refused until SECRET_KEY is set to it (`tar -xOf {file} secret_key` prints it)",
            err=True,
        )


def _requests(n: int) -> str:
    return f"{n:,} request{'' if n == 1 else 's'}"


@contextlib.contextmanager
def _rows_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A bar of the rows copied, on a terminal's stderr; nothing otherwise
    (a scheduled backup's mail)."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True) as bar:

        def advance(rows: int, about: int) -> None:
            # The total is the planner's estimate: the bar never runs past it, nor backwards.
            bar.length = max(about, rows, 1)
            bar.update(max(0, min(rows, bar.length) - bar.pos))

        yield advance


@cli.command()
@_reports_errors
def doctor() -> None:
    """Report the database's size, dead rows, waiting requests, overdue
    webhook deliveries and last backup, and say where to act; exit status 1
    when there is something to do."""
    from shared import doctor as checkup

    configured = Settings.from_env()
    # The embedded server's disk is ours to watch; an external one's is its operator's.
    embedded = configured.data_dir / "postgres" if configured.database_url is None else None
    settings = connect(configured)
    assert settings.database_url is not None
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            health = checkup.examine(connection, settings.processing_window_minutes * 60, embedded)
    finally:
        engine.dispose()
    click.echo(f"database: {checkup.size(health.database_bytes)}")
    for table in health.tables[:8]:
        vacuumed = table.last_vacuum.strftime("%Y-%m-%d %H:%M") if table.last_vacuum else "never"
        click.echo(
            f"  {table.name:<24} {checkup.size(table.total_bytes):>10}  {table.live_rows:>12,} rows  "
            f"{table.dead_rows:>10,} dead  vacuumed {vacuumed}"
        )
    waited = health.oldest_pending_seconds
    click.echo("oldest undecided request: " + ("none" if waited is None else f"{waited / 60:,.1f} minutes old"))
    overdue = health.oldest_due_delivery_seconds
    click.echo(
        "oldest due webhook delivery: " + ("none" if overdue is None else f"due {overdue / 60:,.1f} minutes ago")
    )
    age = health.last_backup_age
    click.echo("last backup: " + ("never" if age is None else f"{age.total_seconds() / 3600:,.1f} hours ago"))
    if health.disk is not None:
        click.echo(f"disk of {health.disk.path}: {checkup.size(health.disk.free_bytes)} free")
    found = checkup.advice(health)
    for one in found:
        click.echo(f"warning: {one.finding}: {one.action}")
    if found:
        sys.exit(1)
    click.echo("nothing to do (docs/operating.md#routine-maintenance)")


@cli.command("create-publisher")
@click.argument("name")
@_reports_errors
def create_publisher(name: str) -> None:
    """Create the publisher NAME (a tenant)."""
    from shared.tenants import create_publisher as create

    with _transaction() as (session, _):
        publisher = create(session, name)
    click.echo(f"created publisher {publisher.name!r}")


@cli.command("create-user")
@click.option("--publisher", "publisher_name", required=True, help="the publisher's name")
@click.option("--password", help="at least 8 characters; asked for, or generated, when left out")
@click.argument("email")
@_reports_errors
def create_user(publisher_name: str, email: str, password: str | None) -> None:
    """Create a web login EMAIL for a publisher."""
    from shared.tenants import create_user as create
    from shared.tenants import publisher_named

    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password, generated = secrets.token_urlsafe(12), True
    with _transaction() as (session, _):
        user = create(session, publisher_named(session, publisher_name), email, password or "")
    click.echo(f"created user {user.email} for publisher {publisher_name!r}")
    if generated:
        click.echo(f"password: {password}")


@cli.command("grant-operator")
@click.argument("email")
@_reports_errors
def grant_operator(email: str) -> None:
    """Let the user EMAIL see the operator page (every publisher's queue)."""
    from shared.tenants import grant_operator as grant

    with _transaction() as (session, _):
        user = grant(session, email)
    click.echo(f"{user.email} is an operator: the page /operator shows every publisher's queue")


@cli.command("create-api-key")
@click.option("--publisher", "publisher_name", required=True, help="the publisher's name")
@click.option("--label", default="", help="a note to tell keys apart")
@_reports_errors
def create_api_key(publisher_name: str, label: str) -> None:
    """Create an API key; it is printed once, alone on the last line."""
    from shared.tenants import create_api_key as create
    from shared.tenants import publisher_named

    with _transaction() as (session, settings):
        key = create(session, publisher_named(session, publisher_name), settings.secret_key, label)
    click.echo(f"created an API key for publisher {publisher_name!r}; it is shown only now:")
    click.echo(key)


@cli.command("revoke-api-key")
@click.option("--publisher", "publisher_name", required=True, help="the publisher's name")
@click.argument("key_or_prefix")
@_reports_errors
def revoke_api_key(publisher_name: str, key_or_prefix: str) -> None:
    """Revoke an API key, given whole or by its lc_<prefix>."""
    from shared.tenants import publisher_named
    from shared.tenants import revoke_api_key as revoke

    prefix = key_or_prefix.removeprefix("lc_")[:12]
    with _transaction() as (session, _):
        revoke(session, publisher_named(session, publisher_name), prefix)
    click.echo(f"revoked the API key lc_{prefix}")


@cli.command("create-product")
@click.option("--publisher", "publisher_name", required=True, help="the publisher's name")
@click.option("--product-id", type=int, required=True, help="the ProductID of TXT uploads, unique on the server")
@click.option("--short-code", required=True, help="the name CSV files use, unique on the server")
@click.option("--name", required=True)
@click.option("--prefix", help="every uploaded code must start with it")
@click.option("--activation-expiry", type=int, default=365, show_default=True, help="days, when a file omits it")
@click.option("--evaluation-expiry", type=int, default=30, show_default=True, help="days (1-60), when omitted")
@click.option(
    "--low-stock-threshold",
    type=int,
    default=DEFAULT_LOW_STOCK_THRESHOLD,
    show_default=True,
    help="fewer available codes than this is low stock; 0: never low",
)
@_reports_errors
def create_product(
    publisher_name: str,
    product_id: int,
    short_code: str,
    name: str,
    prefix: str | None,
    activation_expiry: int,
    evaluation_expiry: int,
    low_stock_threshold: int,
) -> None:
    """Create a product for a publisher."""
    from shared.products import NewProduct
    from shared.products import create_product as create
    from shared.tenants import publisher_named

    new = NewProduct(product_id, short_code, name, prefix, activation_expiry, evaluation_expiry, low_stock_threshold)
    with _transaction() as (session, _):
        product = create(session, publisher_named(session, publisher_name), new)
    click.echo(f"created product {product.product_id} ({product.short_code}) for publisher {publisher_name!r}")


# The publishers' client: plain click commands that only speak HTTP.
for _client_command in client_commands.COMMANDS:
    cli.add_command(_client_command)


def main() -> None:
    cli.main(prog_name="licensecodes")
