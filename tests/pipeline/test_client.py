"""The publishers' command line (`licensecodes upload/status/download/take/stock`)
against the real app served on a real port, decided by the real worker.
The client runs in-process (CliRunner) where its output is checked, and as
a process of its own where the exit status and the lack of a traceback
are the point; either way it must never reach for the database."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from shared import states
from shared.config import Settings
from tests.conftest import Tenant, clean_environ
from tests.pipeline.conftest import large_csv, queued_request, txt
from tests.pool.conftest import stock_pool
from web.cli import cli

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT = 1234


@pytest.fixture(autouse=True)
def no_database_from_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's commands are HTTP only: connecting would start the
    embedded servers on a publisher's machine."""

    def refuse(*args: object) -> None:
        raise AssertionError("the client called shared.services.connect")

    monkeypatch.setattr("web.cli.connect", refuse)
    monkeypatch.setattr("shared.services.connect", refuse)


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


@pytest.fixture
def licensecodes(server_url: str, acme: Tenant):  # type: ignore[no-untyped-def]
    """Run `licensecodes ARGS` in-process as acme, the server in the environment."""

    def run(*args: str) -> Result:
        environ = {"LICENSECODES_URL": server_url, "LICENSECODES_API_KEY": acme.api_key}
        return CliRunner().invoke(cli, list(args), env=environ, catch_exceptions=False)

    return run


def a_file(tmp_path: Path, content: bytes, name: str = "codes.txt") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def client_process(*args: str, data_dir: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """The client as a publisher runs it, on a machine with no database:
    the data directory is empty and must stay so."""
    env = clean_environ(LICENSECODES_DATA_DIR=str(data_dir), **environ)
    return subprocess.run(
        [sys.executable, "-m", "web", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_good_file_uploads_with_a_progress_bar_and_waits_for_its_codes_to_be_stored(
    licensecodes: Any, tmp_path: Path
) -> None:
    content = txt("1234\tALPHA-1", "1234\tBETA-2\t7")

    result = licensecodes("upload", a_file(tmp_path, content), "--product", "1234", "--wait")

    assert result.exit_code == 0, result.output
    assert "Uploading" in result.stderr
    assert result.stdout.splitlines()[-1].endswith("completed: 2 codes stored")


def test_status_and_download_read_back_a_completed_upload(
    licensecodes: Any, tmp_path: Path, app: Flask, acme: Tenant
) -> None:
    path = a_file(tmp_path, txt("1234\tALPHA-1", "1234\tBETA-2"))
    uploaded = licensecodes("upload", path, "--product", "1234", "--wait")
    upload_id = uploaded.stdout.split()[1]

    status = licensecodes("status", upload_id)
    assert status.exit_code == 0, status.output
    assert "  status:    completed" in status.stdout
    assert "  codes:     2" in status.stdout
    assert "  deadline:  20" in status.stdout

    served = app.test_client().get(f"/api/v1/uploads/{upload_id}/codes.txt", headers=acme.auth).data
    to_stdout = licensecodes("download", upload_id)
    to_file = licensecodes("download", upload_id, "-o", str(tmp_path / "out.txt"))
    assert (to_stdout.exit_code, to_file.exit_code) == (0, 0)
    assert to_stdout.stdout_bytes == served == (tmp_path / "out.txt").read_bytes()
    assert b"ALPHA-1" in served and b"BETA-2" in served


def test_a_bad_file_exits_1_and_prints_every_problem_with_its_line(licensecodes: Any, tmp_path: Path) -> None:
    content = txt("1234\tGOOD", "1234\tbad code", "1234\tGOOD-2", "1234\talso bad")

    result = licensecodes("upload", a_file(tmp_path, content), "--product", "1234", "--wait")

    assert result.exit_code == 1, result.output
    assert " rejected, nothing was stored: 2 problems" in result.stdout
    problems = [line for line in result.stdout.splitlines() if line.startswith("  line ")]
    assert [line.split(":")[0] for line in problems] == ["  line 2", "  line 4"]
    assert "more" not in result.stdout


def test_beyond_the_listed_problems_the_client_says_how_many_more_and_fetches_the_report(
    licensecodes: Any, tmp_path: Path
) -> None:
    content = txt(*(f"1234\tbad code {n}" for n in range(120)))

    result = licensecodes("upload", a_file(tmp_path, content), "--product", "1234", "--wait")

    assert result.exit_code == 1, result.output
    assert sum(line.startswith("  line ") for line in result.stdout.splitlines()) == 100
    upload_id = result.stdout.split()[1]
    assert "... and 20 more (120 problems in all)" in result.stdout
    assert f"licensecodes download {upload_id} --errors" in result.stdout
    status = licensecodes("status", upload_id)
    assert status.exit_code == 1 and "  problems:  120" in status.stdout
    report = licensecodes("download", upload_id, "--errors")
    assert report.exit_code == 0
    assert len(report.stdout_bytes.decode("utf-8-sig").splitlines()) == 121


def test_a_dry_run_summarises_stores_nothing_and_has_no_download(licensecodes: Any, tmp_path: Path) -> None:
    result = licensecodes("upload", a_file(tmp_path, txt("1234\tA-1", "1234\tA-2")), "--product", "1234",
                          "--dry-run", "--evaluation", "--wait")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "completed: 2 codes would be stored; nothing was stored" in result.stdout
    upload_id = result.stdout.split()[1]
    assert "  code type: evaluation, dry run" in licensecodes("status", upload_id).stdout
    refused = licensecodes("download", upload_id)
    assert refused.exit_code == 1
    assert "dry run" in refused.stderr.lower()


def test_waiting_that_runs_out_exits_4_with_the_deadline(licensecodes: Any, tmp_path: Path) -> None:
    result = licensecodes("upload", a_file(tmp_path, txt("1234\tLATER")), "--product", "1234", "--wait",
                          "--timeout", "0")  # fmt: skip

    assert result.exit_code == 4, result.output
    assert "is still queued; its deadline is 20" in result.stdout


def test_a_product_of_no_one_exits_3_before_the_file_is_sent(licensecodes: Any, tmp_path: Path) -> None:
    result = licensecodes("upload", a_file(tmp_path, txt("9999\tX")), "--product", "9999")

    assert result.exit_code == 3
    assert "404" in result.stderr and "Uploading" not in result.stderr


def test_without_an_api_key_it_is_a_usage_error(server_url: str, tmp_path: Path) -> None:
    result = client_process("status", "1", data_dir=tmp_path, LICENSECODES_URL=server_url)

    assert result.returncode == 2
    assert "LICENSECODES_API_KEY" in result.stderr


def test_a_wrong_key_exits_3_with_a_clear_message_and_no_database(server_url: str, tmp_path: Path) -> None:
    path = a_file(tmp_path, txt("1234\tA"))
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    result = client_process("upload", path, "--product", "1234", "--url", server_url, data_dir=data_dir,
                            LICENSECODES_API_KEY="lc_000000000000_" + "x" * 43)  # fmt: skip

    assert result.returncode == 3
    assert result.stderr.startswith("Error: the server refused the API key (401): ")
    assert "Traceback" not in result.stderr
    assert list(data_dir.iterdir()) == []


def test_a_server_that_is_down_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    result = client_process("status", "7", "--url", url, "--api-key", "lc_whatever", data_dir=data_dir)

    assert result.returncode == 3
    assert result.stderr == f"Error: cannot reach the server at {url}: Connection refused\n"
    assert list(data_dir.iterdir()) == []


def a_large_csv(tmp_path: Path) -> str:
    """A file the client sees being checked for a few seconds."""
    return a_file(tmp_path, large_csv(PRODUCT), "big.csv")


def test_waiting_on_a_large_file_reports_the_lines_checked_as_they_grow(licensecodes: Any, tmp_path: Path) -> None:
    result = licensecodes("upload", a_large_csv(tmp_path), "--product", "1234", "--wait")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("completed: 1,000,000 codes stored")
    # Not a terminal: a line per tenth of the file, then the last stage.
    checked = re.findall(r"^Processing: processing, (\d+)% \(([\d,]+) lines checked\)$", result.stderr, re.M)
    assert checked, result.stderr
    percents = [int(percent) for percent, _ in checked]
    assert percents == sorted(percents) and len(set(p // 10 for p in percents)) == len(percents)
    assert any(0 < int(lines.replace(",", "")) < 1_000_000 for _, lines in checked), result.stderr
    assert "Processing: processing, 100% (all 1,000,000 lines read, finishing)" in result.stderr


def test_on_a_terminal_the_processing_has_a_bar_of_its_own(server_url: str, acme: Tenant, tmp_path: Path) -> None:
    path = a_large_csv(tmp_path)
    data_dir = tmp_path / "data"
    data_dir.mkdir()

    status, terminal = client_on_a_terminal(
        "upload", path, "--product", "1234", "--wait", data_dir=data_dir,
        LICENSECODES_URL=server_url, LICENSECODES_API_KEY=acme.api_key,
    )  # fmt: skip

    assert status == 0, terminal
    assert re.search(r"Uploading +\[#+\] +100%", terminal), terminal
    bars = re.findall(r"Processing +\[([#-]+)\] +(\d+)% +([\w, ]*\w)", terminal)
    assert any(0 < int(percent) < 100 and text.endswith("lines checked") for _, percent, text in bars), terminal
    assert bars[-1][1:] == ("100", "completed"), terminal


def client_on_a_terminal(*args: str, data_dir: Path, **environ: str) -> tuple[int, str]:
    """The client with its stderr on a pseudo-terminal, as a person runs
    it: its exit status and everything it drew there."""
    env = clean_environ(LICENSECODES_DATA_DIR=str(data_dir), COLUMNS="120", **environ)
    main, side = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "web", *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=side
    ) as process:
        os.close(side)
        drawn = bytearray()
        while True:
            try:
                piece = os.read(main, 65536)
            except OSError:  # EIO: the client has gone, and its side of the terminal with it
                break
            if not piece:
                break
            drawn += piece
        os.close(main)
        status = process.wait(timeout=60)
    return status, drawn.decode(errors="replace")


def test_status_of_a_processing_request_says_how_far_it_got(
    licensecodes: Any, acme: Tenant, sessions: sessionmaker[Session], settings: Settings
) -> None:
    request_id = queued_request(sessions, acme, txt("1234\tA-1", "1234\tA-2"))
    with sessions.begin() as session:
        held = states.claim(session, request_id, settings.lease_seconds)
        assert held is not None and states.record_progress(session, held, 1, 10)

    status = licensecodes("status", str(request_id))

    assert status.exit_code == 4, status.output
    assert "  status:    processing" in status.stdout
    assert "  checked:   1 line, 50% of the file" in status.stdout


def test_take_prints_the_codes_one_a_line_and_the_same_codes_again_for_the_same_reference(
    licensecodes: Any, sessions: sessionmaker[Session]
) -> None:
    codes = stock_pool(sessions, PRODUCT, 5)

    first = licensecodes("take", "--product", "1234", "--reference", "order-1", "--quantity", "2")
    again = licensecodes("take", "--product", "1234", "--reference", "order-1", "--quantity", "2")

    assert (first.exit_code, again.exit_code) == (0, 0), first.output
    assert first.stdout == again.stdout == f"{codes[0]}\n{codes[1]}\n"
    assert first.stderr == "allocation 1 (reference 'order-1'): 2 activation codes distributed\n"
    assert (
        again.stderr == "allocation 1 (reference 'order-1') was made before: the same 2 activation codes, distributed\n"
    )
    reserved = licensecodes("take", "--product", "1234", "--reference", "cart-1", "--reserve")
    assert reserved.exit_code == 0 and reserved.stdout == f"{codes[2]}\n"
    assert re.fullmatch(
        r"allocation \d+ \(reference 'cart-1'\): 1 activation code reserved until 20\S+Z\n", reserved.stderr
    )


def test_take_refuses_an_empty_pool_and_a_reused_reference_with_status_1_and_takes_nothing(
    licensecodes: Any, sessions: sessionmaker[Session], server_url: str, acme: Tenant, tmp_path: Path
) -> None:
    stock_pool(sessions, PRODUCT, 2)
    licensecodes("take", "--product", "1234", "--reference", "order-1")

    empty = licensecodes("take", "--product", "1234", "--reference", "order-2", "--quantity", "3")
    conflict = licensecodes("take", "--product", "1234", "--reference", "order-1", "--evaluation")
    bad = client_process("take", "--product", "1234", "--reference", " padded", data_dir=tmp_path,
                         LICENSECODES_URL=server_url, LICENSECODES_API_KEY=acme.api_key)  # fmt: skip

    assert (empty.exit_code, empty.stdout) == (1, "")
    assert empty.stderr == "Error: 3 activation codes asked and 1 available, so nothing was taken\n"
    assert (conflict.exit_code, conflict.stdout) == (1, "")
    assert conflict.stderr.startswith("Error: the reference 'order-1' already names allocation 1 ")
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == "Error: reference must not start or end with whitespace\n"
    assert licensecodes("stock", "--product", "1234").stdout.splitlines()[2].split() == ["available", "1", "0"]


def test_take_of_a_reference_whose_codes_went_back_prints_none_and_a_backorder_exits_4(
    licensecodes: Any, sessions: sessionmaker[Session], app: Flask, acme: Tenant
) -> None:
    stock_pool(sessions, PRODUCT, 1)
    api = app.test_client()
    cart = api.post(f"/api/v1/products/{PRODUCT}/allocations", json={"reference": "cart-1", "mode": "reserve"},
                    headers=acme.auth).get_json()["id"]  # fmt: skip
    api.post(f"/api/v1/allocations/{cart}/release", headers=acme.auth)
    api.post(f"/api/v1/products/{PRODUCT}/allocations", json={"reference": "later", "quantity": 2, "backorder": True},
             headers=acme.auth)  # fmt: skip

    released = licensecodes("take", "--product", "1234", "--reference", "cart-1", "--reserve")
    waiting = licensecodes("take", "--product", "1234", "--reference", "later", "--quantity", "2")
    missing = licensecodes("take", "--product", "9999", "--reference", "x")

    assert (released.exit_code, released.stdout) == (1, "")
    assert "is released: its codes went back to the pool; send a new reference" in released.stderr
    assert (waiting.exit_code, waiting.stdout) == (4, "")
    assert "is backordered: it waits for 2 activation codes; run the same command later" in waiting.stderr
    assert missing.exit_code == 3 and "404" in missing.stderr


def test_stock_prints_each_count_by_code_type(licensecodes: Any, sessions: sessionmaker[Session]) -> None:
    stock_pool(sessions, PRODUCT, 1500)
    stock_pool(sessions, PRODUCT, 3, request_id=2, code_type="evaluation")
    licensecodes("take", "--product", "1234", "--reference", "order-1", "--quantity", "7")

    result = licensecodes("stock", "--product", "1234")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "product 1234: low-stock threshold 100",
        "                       activation  evaluation",
        "  available                 1,493           3",
        "  reserved                      0           0",
        "  distributed                   7           0",
        "  revoked                       0           0",
        "  backordered (codes)           0           0",
        "  backorders waiting            0           0",
        "  last 7 days                   7           0",
        "  days left               1,493.0           -",
        "  low                          no         yes",
    ]
    assert licensecodes("stock", "--product", "9999").exit_code == 3


def test_generate_waits_for_the_codes_made_and_status_and_download_read_them_back(
    licensecodes: Any, tmp_path: Path
) -> None:
    asked = ("--product", "1234", "--quantity", "300", "--length", "12", "--group", "4")
    made = licensecodes("generate", *asked, "--wait")

    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[0].startswith("generation ")
    assert made.stdout.splitlines()[-1].endswith("completed: 300 codes stored")
    request_id = made.stdout.split()[1]
    status = licensecodes("status", request_id)
    assert f"generation {request_id}" in status.stdout
    assert "  generate:  300 codes (12 characters of 23456789ABCDEFGHJKLMNPQRSTUVWXYZ, groups of 4" in status.stdout
    codes = licensecodes("download", request_id).stdout.splitlines()
    assert len(codes) == 300
    assert all(re.fullmatch(r"1234\t[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){2}\t365", line) for line in codes)


def test_generate_refuses_a_weak_format_with_exit_1_naming_the_least_length(licensecodes: Any) -> None:
    weak = licensecodes("generate", "--product", "1234", "--quantity", "10", "--alphabet", "AB", "--length", "20")

    assert weak.exit_code == 1, weak.output
    assert "format.length" in weak.stderr and "a length of at least 40" in weak.stderr


def test_a_generation_dry_run_reports_an_example_and_its_strength(licensecodes: Any) -> None:
    dry = licensecodes("generate", "--product", "1234", "--quantity", "5", "--evaluation", "--dry-run", "--wait")

    assert dry.exit_code == 0, dry.output
    assert "5 codes would be made; nothing was stored" in dry.stdout
    assert re.search(r"  example: [2-9A-HJ-NP-Z]{5}(-[2-9A-HJ-NP-Z]{5}){3}\n", dry.stdout), dry.stdout
    assert "  bits: 100.0" in dry.stdout
