"""The `licensecodes` command line (docs/cli.md) run as real processes on
the test services; what the commands create is then checked through the API
and the login page in-process, against the same database and secret key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.models import ApiKey, Product, Publisher, User
from shared.tenants import create_api_key
from tests.conftest import clean_environ

KEY_SHAPE = re.compile(r"lc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    """The stdout of a command that must have worked."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    return result.stdout


def printed_key(result: subprocess.CompletedProcess[str]) -> str:
    """The last line of create-api-key's output, which must be the key alone."""
    last_line = succeeded(result).rstrip("\n").split("\n")[-1]
    assert KEY_SHAPE.fullmatch(last_line), repr(last_line)
    return last_line


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def listed_products(client: FlaskClient, key: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/products", headers=bearer(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    items: list[dict[str, Any]] = response.get_json()["items"]
    # Their stock is the pool's (tests/pool); here, what the commands set.
    return [{k: v for k, v in item.items() if k not in ("created_at", "stock")} for item in items]


def logs_in(client: FlaskClient, email: str, password: str) -> bool:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "email": email, "password": password})
    return response.status_code == 302 and response.location == "/products"


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Publisher, User, ApiKey, Product)
        }


def test_help_lists_the_commands_and_starts_no_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    environ = clean_environ(LICENSECODES_DATA_DIR=str(data_dir))  # no DATABASE_URL, no REDIS_URL
    script = Path(sys.executable).parent / "licensecodes"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "web"]

    result = subprocess.run([*command, "--help"], check=False, env=environ, capture_output=True, text=True, timeout=60)

    usage = succeeded(result)
    assert usage.startswith("Usage: licensecodes ")
    listed = set(re.findall(r"^  ([a-z][a-z-]*)\s", usage.split("Commands:")[1], re.MULTILINE))
    expected = {"serve", "web", "worker", "beat", "db", "create-publisher", "create-user", "create-api-key"}
    assert expected | {"create-product"} <= listed
    assert not (data_dir / "postgres").exists()
    assert not (data_dir / "redis").exists()


def test_db_upgrade_succeeds_on_an_already_migrated_database(run_cli: Any, engine: Engine) -> None:
    with engine.connect() as connection:
        head = connection.scalar(text("SELECT version_num FROM alembic_version"))

    output = succeeded(run_cli("db", "upgrade"))

    assert "upgraded to head" in output
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == head


def test_two_publishers_made_through_the_cli_each_see_only_their_own_product(run_cli: Any, client: FlaskClient) -> None:
    """The acceptance check: everything made by the command line alone."""
    succeeded(run_cli("create-publisher", "Acme Software"))
    succeeded(run_cli("create-user", "--publisher", "Acme Software", "Ann@Acme.example", "--password", "s3cret-pass"))
    acme_key = printed_key(run_cli("create-api-key", "--publisher", "Acme Software", "--label", "build server"))
    product_options = (
        "--product-id 1234 --short-code acme-pro --prefix AP- --activation-expiry 400 --evaluation-expiry 45"
        " --low-stock-threshold 0"
    )
    succeeded(run_cli("create-product", "--publisher", "Acme Software", "--name", "Acme Pro", *product_options.split()))
    succeeded(run_cli("create-publisher", "Beta"))
    succeeded(
        run_cli("create-product", "--publisher", "Beta", "--product-id", "77", "--short-code", "b", "--name", "B")
    )
    beta_key = printed_key(run_cli("create-api-key", "--publisher", "Beta"))

    assert acme_key != beta_key
    assert listed_products(client, acme_key) == [
        {
            "product_id": 1234,
            "short_code": "acme-pro",
            "name": "Acme Pro",
            "prefix": "AP-",
            "activation_expiry_days": 400,
            "evaluation_expiry_days": 45,
            "low_stock_threshold": 0,
        }
    ]
    assert listed_products(client, beta_key) == [
        {
            "product_id": 77,
            "short_code": "b",
            "name": "B",
            "prefix": None,
            "activation_expiry_days": 365,
            "evaluation_expiry_days": 30,
            "low_stock_threshold": 100,
        }
    ]
    assert client.get("/api/v1/products/1234", headers=bearer(acme_key)).status_code == 200
    assert client.get("/api/v1/products/77", headers=bearer(beta_key)).status_code == 200
    assert client.get("/api/v1/products/77", headers=bearer(acme_key)).status_code == 404
    assert client.get("/api/v1/products/1234", headers=bearer(beta_key)).status_code == 404
    # The e-mail address was stored lowercased; the login takes it in any case.
    assert logs_in(client, "ann@acme.example", "s3cret-pass")


ERROR_CASES = {
    "duplicate_publisher": ("create-publisher Acme", "already exists"),
    "create_user_unknown_publisher": (
        "create-user --publisher Nobody new@example.com --password long-enough",
        "no publisher named 'Nobody'",
    ),
    "create_api_key_unknown_publisher": ("create-api-key --publisher Nobody", "no publisher named 'Nobody'"),
    "create_product_unknown_publisher": (
        "create-product --publisher Nobody --product-id 5 --short-code n5 --name N5",
        "no publisher named 'Nobody'",
    ),
    "product_id_taken": (
        "create-product --publisher Acme --product-id 101 --short-code other --name Other",
        "the product id 101 is already taken on this server",
    ),
    "evaluation_expiry_61": (
        "create-product --publisher Acme --product-id 7 --short-code s7 --name S7 --evaluation-expiry 61",
        "evaluation_expiry_days must be a whole number of days from 1 to 60, not 61",
    ),
    "low_stock_threshold_negative": (
        "create-product --publisher Acme --product-id 7 --short-code s7 --name S7 --low-stock-threshold -1",
        "low_stock_threshold must be a whole number from 0 to 2,147,483,647, not -1",
    ),
    "short_password": (
        "create-user --publisher Acme new@example.com --password short",
        "at least 8 characters",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_a_refused_command_prints_one_clear_line_exits_1_and_changes_nothing(
    run_cli: Any, make_tenant: Any, sessions: sessionmaker[Session], case: str
) -> None:
    make_tenant("Acme", (101,))
    arguments, explanation = ERROR_CASES[case]
    before = row_counts(sessions)

    result = run_cli(*arguments.split())

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert explanation in lines[0]
    assert row_counts(sessions) == before


def test_create_user_without_a_password_and_no_terminal_prints_one_that_logs_in(
    run_cli: Any, make_tenant: Any, client: FlaskClient
) -> None:
    make_tenant("Acme")

    output = succeeded(run_cli("create-user", "--publisher", "Acme", "bob@example.com", input=""))

    last_line = output.rstrip("\n").split("\n")[-1]
    assert last_line.startswith("password: ")
    password = last_line.removeprefix("password: ")
    assert len(password) >= 8 and password.strip() == password
    assert not logs_in(client, "bob@example.com", password + "x")
    assert logs_in(client, "bob@example.com", password)


def test_revoke_api_key_makes_that_key_answer_401_and_leaves_the_others(
    run_cli: Any, make_tenant: Any, client: FlaskClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    tenant = make_tenant("Acme", (101,))
    with sessions.begin() as session:
        other_key = create_api_key(session, session.get_one(Publisher, tenant.publisher_id), settings.secret_key)
    assert client.get("/api/v1/products", headers=tenant.auth).status_code == 200

    output = succeeded(run_cli("revoke-api-key", "--publisher", "Acme", tenant.api_key))

    assert tenant.api_key[:15] in output
    assert client.get("/api/v1/products", headers=tenant.auth).status_code == 401
    assert client.get("/api/v1/products", headers=bearer(other_key)).status_code == 200
