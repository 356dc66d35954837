"""The publisher's screens in a real browser: Debian's Chromium driven by
Playwright against the real app on a real port, decided by the real worker.
Log in, send files from the Upload Codes screen and watch its list update
itself, read a rejected request's problems, download the codes, delete a
queued request (accepting the confirm dialog), check a file and import it.
Each screen is saved to var/test/screenshots/<name>.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import REPO, Tenant
from tests.pipeline.conftest import queued_request, txt

pytestmark = pytest.mark.usefixtures("workers")
PRODUCT = 1234
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking ones Chromium's own connections are
# refused by the closed network of the test machines.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
SCREENSHOTS = REPO / "var" / "test" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: the browser tests need Debian's (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


@pytest.fixture
def page(browser: Browser, server_url: str, acme: Tenant) -> Iterator[Page]:
    """A fresh browser context, logged in as acme through the login form."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=server_url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("E-mail address").fill(acme.email)
    page.get_by_label("Password").fill(acme.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Products")).to_be_visible()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0, path


def open_upload_screen(page: Page) -> None:
    page.goto("/products")
    page.get_by_role("link", name=re.compile(r"^Upload codes")).first.click()
    expect(page).to_have_url(re.compile(rf"/products/{PRODUCT}/uploads$"))


def send(page: Page, name: str, content: bytes, *, check_only: bool = False) -> Locator:
    """Send a file from the Upload Codes screen; answer its row in the list."""
    if check_only:
        page.get_by_label(re.compile(r"^Check only")).check()
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": content}]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    return row_of(page, name)


def row_of(page: Page, filename: str) -> Locator:
    row = page.get_by_role("row").filter(has_text=filename)
    expect(row).to_have_count(1)
    return row


def test_a_good_file_completes_and_downloads_and_a_bad_one_shows_its_problems(page: Page) -> None:
    screenshot(page, "products")
    expect(page.get_by_role("row").filter(has_text=str(PRODUCT))).to_have_count(1)
    open_upload_screen(page)

    good = send(page, "good.txt", txt("1234\tALPHA-1", "1234\tBETA-2\t7\t3"))
    expect(good).to_contain_text("Completed")  # the list polls itself: no reload
    with page.expect_download() as downloading:
        good.get_by_role("link", name=re.compile(r"^Download")).click()
    assert Path(downloading.value.path()).read_bytes() == txt("1234\tALPHA-1\t365", "1234\tBETA-2\t7\t3")

    bad = send(page, "bad.txt", txt("1234\tGOOD-1", "9999\tFOREIGN-2"))
    expect(bad).to_contain_text("Rejected")
    expect(bad).to_contain_text(re.compile(r"line 2", re.IGNORECASE))
    screenshot(page, "uploads")

    # A plain pointer click: the link was once missed, its first box being
    # the 1 px of its visually hidden "Upload " (style.css, .requests th a).
    bad.get_by_role("link", name=re.compile(r"^Upload \d+")).click()
    expect(page.get_by_role("heading", name="Problems")).to_be_visible()
    problem = page.get_by_role("table", name="Problems by line").get_by_role("row").filter(has_text="9999")
    expect(problem).to_have_count(1)
    expect(problem.get_by_role("rowheader")).to_have_text("2")
    screenshot(page, "request-rejected")

    page.goto(f"/products/{PRODUCT}/codes")
    expect(page.get_by_text("ALPHA-1")).to_be_visible()
    expect(page.get_by_text("GOOD-1")).to_have_count(0)
    screenshot(page, "codes")

    page.goto("/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    screenshot(page, "keys")


def test_a_queued_request_is_deleted_after_the_confirm_dialog(
    page: Page, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    queued_request(sessions, acme, txt("1234\tWAITING-1"))  # no worker hears of it
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    open_upload_screen(page)
    row = row_of(page, "f.txt")
    expect(row).to_contain_text("Queued")
    row.get_by_role("button", name=re.compile(r"^Delete")).click()
    expect(page.get_by_text(re.compile(r"Upload \d+ \(f\.txt\) is deleted"))).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="f.txt")).to_have_count(0)
    assert len(dialogs) == 1 and "Delete upload" in dialogs[0], dialogs


def test_a_file_checked_only_is_then_imported(page: Page) -> None:
    open_upload_screen(page)
    checked = send(page, "checked.txt", txt("1234\tCHECK-1", "1234\tCHECK-2"), check_only=True)
    expect(checked).to_contain_text("Completed")
    expect(checked).to_contain_text("Dry run")
    expect(checked).to_contain_text("nothing was stored")

    checked.get_by_role("button", name=re.compile(r"^Import")).click()
    rows = page.get_by_role("row").filter(has_text="checked.txt")
    expect(rows).to_have_count(2)
    imported = rows.filter(has_not_text="Dry run")
    expect(imported).to_contain_text("Completed")
    expect(imported.get_by_role("link", name=re.compile(r"^Download"))).to_have_count(1)
    expect(rows.filter(has_text="Dry run")).to_contain_text("Imported")
