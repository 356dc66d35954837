"""The publisher's screens in a real browser: Debian's Chromium driven by
Playwright against the real app on a real port, decided by the real worker.
Log in, send files from the Upload Codes screen and watch its list update
itself, read a rejected request's problems, download the codes, delete a
queued request (accepting the confirm dialog), check a file and import it;
drop a file on the drop zone, watch a large file's progress bar, watch a
pending request's page follow it to its decision, see the operator page;
hand codes out, move and revoke them on the Allocations tab, read the
Stock tab, revoke what is left of an upload after the page that asks first;
register a webhook endpoint, see its secret once, send it a test event and
replay it from its delivery log; walk every screen on a phone-sized window. Each screen is checked with
axe-core (no accessibility violation) and saved to
var/test/screenshots/<name>.png (<name>-phone.png at phone width)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.tenants import grant_operator
from tests.conftest import REPO, Tenant
from tests.events.receiver import receiver
from tests.pipeline.conftest import queued_request, txt, upload, wait_decided

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("workers")]
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
AXE = Axe()  # axe-core, bundled with the package: nothing fetched


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM}: the browser tests need Debian's (apt-get install chromium)"
        # A developer without Chromium runs the rest; in CI a skip would
        # pass unseen with no screen checked, so the run fails instead.
        if in_ci():
            pytest.fail(missing + "; CI is set, so this is a failure, not a skip", pytrace=False)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def in_ci() -> bool:
    """CI set as CI services set it (true, 1, yes ...), not empty or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.fixture
def acme(make_tenant: Any) -> Tenant:
    return make_tenant("acme", (PRODUCT,))


@pytest.fixture
def page(browser: Browser, server_url: str, acme: Tenant) -> Iterator[Page]:
    """A fresh browser context, logged in as acme through the login form."""
    context = browser.new_context(base_url=server_url, accept_downloads=True)
    yield log_in(context, acme, lambda login: inspect_screen(login, "login"))
    context.close()


def log_in(context: BrowserContext, tenant: Tenant, look: Callable[[Page], None]) -> Page:
    """Log in through the form, after `look` has seen the login page."""
    expect.set_options(timeout=TIMEOUT_MS)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    look(page)
    page.get_by_label("E-mail address").fill(tenant.email)
    page.get_by_label("Password").fill(tenant.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Products")).to_be_visible()
    return page


def inspect_screen(page: Page, name: str) -> None:
    """Check the screen as it is now with axe-core (its default rules: WCAG 2
    A and AA, and best practices: labels, names, contrast, landmarks): no
    violation. Then save its screenshot."""
    violations = AXE.run(page).response["violations"]
    assert not violations, [(name, v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in violations]
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


def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirm() of the page; the list of their messages, as they come."""
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return dialogs


def row_of(page: Page, filename: str) -> Locator:
    row = page.get_by_role("row").filter(has_text=filename)
    expect(row).to_have_count(1)
    return row


def test_a_good_file_completes_and_downloads_and_a_bad_one_shows_its_problems(page: Page) -> None:
    inspect_screen(page, "products")
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
    inspect_screen(page, "uploads")

    # A plain pointer click: the link was once missed, its first box being
    # the 1 px of its visually hidden "Upload " (style.css, .requests th a).
    bad.get_by_role("link", name=re.compile(r"^Upload \d+")).click()
    expect(page.get_by_role("heading", name="Problems")).to_be_visible()
    problem = page.get_by_role("table", name="Problems by line").get_by_role("row").filter(has_text="9999")
    expect(problem).to_have_count(1)
    expect(problem.get_by_role("rowheader")).to_have_text("2")
    inspect_screen(page, "request-rejected")

    page.goto(f"/products/{PRODUCT}/codes")
    expect(page.get_by_text("ALPHA-1")).to_be_visible()
    expect(page.get_by_text("GOOD-1")).to_have_count(0)
    inspect_screen(page, "codes")

    page.goto("/keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    inspect_screen(page, "keys")

    missing = page.goto("/uploads/999999999")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to your products")).to_be_visible()
    inspect_screen(page, "error")


def test_a_queued_request_is_deleted_after_the_confirm_dialog(
    page: Page, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    queued_request(sessions, acme, txt("1234\tWAITING-1"))  # no worker hears of it
    dialogs = accept_dialogs(page)
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
    inspect_screen(page, "uploads-checked")

    checked.get_by_role("button", name=re.compile(r"^Import")).click()
    rows = page.get_by_role("row").filter(has_text="checked.txt")
    expect(rows).to_have_count(2)
    imported = rows.filter(has_not_text="Dry run")
    expect(imported).to_contain_text("Completed")
    expect(imported.get_by_role("link", name=re.compile(r"^Download"))).to_have_count(1)
    expect(rows.filter(has_text="Dry run")).to_contain_text("Imported")
    inspect_screen(page, "uploads-imported")


def test_the_page_of_a_pending_request_follows_it_until_it_is_decided(
    page: Page, app: Flask, acme: Tenant, sessions: sessionmaker[Session]
) -> None:
    content = txt("1234\tPAGE-1", "1234\tPAGE-2")
    upload_id = queued_request(sessions, acme, content)  # no worker hears of it yet
    fetches: list[str] = []
    page.on("request", lambda request: fetches.append(request.url) if request.url.endswith("/fragment") else None)
    page.goto(f"/uploads/{upload_id}")
    facts = page.locator("#request .facts")
    expect(facts).to_contain_text("Queued")
    time_left = page.locator("#time-left").inner_text()
    expect(page.locator("#time-left")).not_to_have_text(time_left)  # refreshed while it waits
    delete = page.get_by_role("button", name=f"Delete upload {upload_id}")
    for _ in range(20):  # by keyboard, through swaps of the section every 2 s
        if delete.evaluate("button => button === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(delete).to_be_focused()

    app.extensions["licensecodes.dispatcher"].request_processing(upload_id, len(content))
    live = page.locator("[data-poll-live]")
    expect(live).to_have_text(f"Upload {upload_id} is completed: 2 codes.")
    expect(facts).to_contain_text("Completed")
    expect(page.locator("#code-count")).to_have_text("2")
    expect(page.get_by_role("link", name=re.compile(r"^Download the codes"))).to_be_visible()
    # Delete is gone: the keyboard user is left on the section, not the page's start.
    heading = page.get_by_role("heading", name="Request")
    expect(heading).to_be_focused()
    assert heading.evaluate("h => h.matches(':focus-visible') && getComputedStyle(h).outlineStyle") == "solid"
    heading.blur()
    inspect_screen(page, "request-completed")

    polled = len(fetches)
    page.wait_for_timeout(4_500)  # two polling intervals and more
    assert len(fetches) == polled, "the page still polls a decided request"
    assert page.locator("#request").get_attribute("data-poll") == "false"


def test_a_file_dropped_on_the_drop_zone_is_chosen_and_sent(page: Page) -> None:
    open_upload_screen(page)
    dropped = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/plain" }));
            return transfer;
        }""",
        ["dropped.txt", txt("1234\tDROP-1", "1234\tDROP-2").decode("cp1252")],
    )
    zone = page.locator("[data-drop-zone]")
    expect(zone.get_by_text("Drop a file here, or choose one:")).to_be_visible()
    zone.dispatch_event("dragenter", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bdrop-over\b"))
    zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(zone).not_to_have_class(re.compile(r"\bdrop-over\b"))
    expect(zone.get_by_text("Chosen: dropped.txt")).to_be_visible()
    chosen = page.get_by_label("File", exact=True).evaluate("input => [...input.files].map(f => [f.name, f.size])")
    assert chosen == [["dropped.txt", 26]]
    inspect_screen(page, "upload-dropped")

    page.get_by_role("button", name="Upload", exact=True).click()
    row = row_of(page, "dropped.txt")
    expect(row).to_contain_text("Completed")
    expect(row.locator("td.num")).to_have_text("2")


def test_a_large_file_shows_its_upload_progress_to_the_end(page: Page) -> None:
    open_upload_screen(page)
    content = txt(*(f"1234\tBIG-{n:07d}" for n in range(200_000)))
    assert len(content) > 3 * 2**20
    # What the bar showed, kept on the window: the page's <main> is replaced once the upload is answered.
    page.evaluate(
        """() => {
            window.shown = [];
            const bar = document.getElementById("upload-progress-bar");
            const box = document.getElementById("upload-progress");
            new MutationObserver(() => window.shown.push([box.hidden, bar.value, bar.max]))
                .observe(bar, { attributes: true, attributeFilter: ["value"] });
        }"""
    )
    # 2 MB/s up: the bar moves for more than a second.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2_000_000},
    )
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "large.txt", "mimeType": "text/plain", "buffer": content}]
    )
    page.get_by_role("button", name="Upload", exact=True).click()
    bar = page.get_by_role("progressbar", name="Sent so far")
    expect(bar).to_be_visible()
    page.wait_for_function("() => window.shown.some(([, value]) => value > 0 && value < 100)")
    inspect_screen(page, "upload-progress")

    row = row_of(page, "large.txt")  # the upload is answered: the screen is the server's page
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    shown = page.evaluate("window.shown")
    assert all(not hidden for hidden, _, _ in shown), shown
    values = [value for _, value, _ in shown]
    assert values == sorted(values) and values[-1] == 100 == shown[-1][2], values
    assert len({value for value in values if 0 < value < 100}) >= 3, values
    expect(row).to_contain_text("Completed", timeout=120_000)
    expect(row.locator("td.num")).to_have_text("200,000")


def test_an_operator_sees_every_publishers_queue(
    page: Page, acme: Tenant, make_tenant: Any, sessions: sessionmaker[Session], client: FlaskClient
) -> None:
    with sessions.begin() as session:
        grant_operator(session, acme.email)
    # Two decisions for the last hour's chart and the rejections, decided by the real worker.
    good = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tCHART-1", f"{PRODUCT}\tCHART-2")).get_json()["id"]
    bad = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tCHART-3", f"{PRODUCT}\tCHART-3")).get_json()["id"]
    assert wait_decided(client, acme, good)["status"] == "completed"
    assert wait_decided(client, acme, bad)["status"] == "rejected"
    globex = make_tenant("globex", (4321,))
    waiting = queued_request(sessions, globex, txt("4321\tTHEIRS-1"))  # stays queued
    page.goto("/products")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operator").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Operator"))).to_be_visible()
    pending = page.get_by_role("table", name="Queued requests, oldest first")
    expect(pending.get_by_role("row").filter(has_text=f"#{waiting}")).to_contain_text("globex")
    expect(page.get_by_text("duplicate_in_file")).not_to_have_count(0)
    expect(page.locator("#chart-summary")).to_contain_text("1 completed and 1 rejected")
    expect(page.locator("svg rect.bar-completed")).to_have_count(1)
    expect(page.locator("svg rect.bar-rejected")).to_have_count(1)
    for secret in ("THEIRS-1", "CHART-1", "CHART-3"):
        expect(page.get_by_text(secret)).to_have_count(0)
    inspect_screen(page, "operator")


def test_codes_are_handed_out_moved_and_revoked_on_the_allocations_tab_and_counted_on_the_stock_tab(
    page: Page, client: FlaskClient, acme: Tenant
) -> None:
    codes = [f"POOL-{n}" for n in range(1, 7)]
    stored = upload(client, acme, PRODUCT, txt(*(f"{PRODUCT}\t{code}" for code in codes))).get_json()["id"]
    assert wait_decided(client, acme, stored)["status"] == "completed"
    dialogs = accept_dialogs(page)
    open_upload_screen(page)
    page.get_by_role("navigation", name=re.compile(r"^Screens of")).get_by_role("link", name="Allocations").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Allocations")
    expect(page.get_by_text("No codes handed out yet")).to_be_visible()

    page.get_by_label("Reference", exact=True).fill("order 1 ")
    page.get_by_label("Quantity").fill("5000")
    page.get_by_role("button", name="Hand out").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was handed out: 2 fields below need changing")
    expect(page.get_by_label("Quantity")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Quantity")).to_have_accessible_description(
        re.compile(r"Quantity must be 1 to 1000, not 5000\.$")
    )
    expect(page.get_by_text("Reference must not start or end with whitespace.")).to_be_visible()
    expect(page.get_by_label("Reference", exact=True)).to_have_value("order 1 ")  # kept as typed
    inspect_screen(page, "allocations-refused")

    page.get_by_label("Reference", exact=True).fill("cart-1")
    page.get_by_label("Quantity").fill("2")
    page.get_by_label("Reserve").check()
    page.get_by_role("button", name="Hand out").click()
    expect(page.get_by_role("status").filter(has_text="2 activation codes reserved until")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="cart-1")
    expect(row).to_contain_text("Reserved")
    expect(row).to_contain_text("POOL-1")
    expect(row).to_contain_text("POOL-2")
    inspect_screen(page, "allocations")

    row.get_by_role("button", name=re.compile(r"^Distribute")).click()
    expect(page.get_by_text("is distributed: its codes are handed out for good")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="cart-1")
    expect(row).to_contain_text("Distributed")
    row.get_by_role("button", name=re.compile(r"^Revoke")).click()
    expect(page.get_by_text("is revoked: its codes will never be handed out again")).to_be_visible()
    assert len(dialogs) == 1 and dialogs[0].startswith("Revoke allocation 1 (cart-1)?"), dialogs

    page.get_by_role("navigation", name=re.compile(r"^Screens of")).get_by_role("link", name="Stock").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stock")
    stock = page.get_by_role("table", name=re.compile(r"by status and code type"))
    expect(stock.get_by_role("row").filter(has_text="Available")).to_contain_text("4")
    expect(stock.get_by_role("row").filter(has_text="Available")).to_contain_text("Low stock")
    expect(stock.get_by_role("row").filter(has_text="Revoked")).to_contain_text("2")
    expect(page.get_by_role("img", name=re.compile(r"^2 codes handed out from"))).to_be_visible()
    page.get_by_text("The chart's numbers").click()
    expect(page.get_by_role("table", name=re.compile(r"^Codes handed out per day"))).to_be_visible()
    inspect_screen(page, "stock")


def test_the_rest_of_a_leaked_upload_is_revoked_after_a_page_that_asks_first(
    page: Page, client: FlaskClient, acme: Tenant
) -> None:
    stored = upload(client, acme, PRODUCT, txt(f"{PRODUCT}\tLEAK-1", f"{PRODUCT}\tLEAK-2", f"{PRODUCT}\tLEAK-3"))
    upload_id = stored.get_json()["id"]
    assert wait_decided(client, acme, upload_id)["status"] == "completed"
    taken = client.post(f"/api/v1/products/{PRODUCT}/allocations", json={"reference": "order-9"}, headers=acme.auth)
    assert taken.status_code == 201
    page.goto(f"/uploads/{upload_id}")
    expect(page.locator("#code-statuses")).to_have_text(re.compile(r"Available: 2 · Reserved: 0 · Distributed: 1"))
    page.get_by_role("link", name=re.compile(r"^Revoke the remaining codes")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revoke the remaining codes?")
    inspect_screen(page, "revoke-confirm")
    page.get_by_role("button", name="Revoke 2 codes").click()
    expect(page.locator("#revoked-count")).to_contain_text(f"2 codes of upload {upload_id} were revoked")
    holders = page.get_by_role("table", name=re.compile(r"^Allocations holding codes"))
    expect(holders.get_by_role("row").filter(has_text="order-9")).to_contain_text("Distributed")
    inspect_screen(page, "revoked")
    page.get_by_role("link", name=f"Back to upload {upload_id}").click()
    expect(page.locator("#code-statuses")).to_have_text(re.compile(r"Available: 0 · .* · Revoked: 2"))


def create_a_product_through_the_form(page: Page, product_id: int, look: Callable[[Page, str], None]) -> None:
    """Fill the New product form with one refused value, see it named beside
    its field with the rest kept, correct it, and land on the new product's
    Upload codes screen; then its Settings tab. `look` sees each screen."""
    page.goto("/products")
    page.get_by_label("Product ID").fill(str(product_id))
    page.get_by_label("Short code").fill(f"studio-{product_id}")
    page.get_by_label("Name", exact=True).fill("Studio")
    page.get_by_label("Evaluation expiry (days)").fill("61")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_role("alert")).to_contain_text("The product was not created: a field needs a change.")
    refused = page.get_by_label("Evaluation expiry (days)")
    expect(refused).to_have_attribute("aria-invalid", "true")
    expect(refused).to_have_accessible_description(
        re.compile(r"^Evaluation expiry must be a whole number of days from 1 to 60, not 61\. Given to")
    )
    expect(page.get_by_label("Short code")).to_have_value(f"studio-{product_id}")
    look(page, "product-refused")

    refused.fill("45")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("heading", name=re.compile("^Upload codes"))).to_be_visible()
    expect(page.get_by_text(f"Product {product_id} (Studio) is created.")).to_be_visible()
    page.get_by_role("navigation", name="Screens of Studio").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name=re.compile("^Settings"))).to_be_visible()
    expect(page.get_by_label("Evaluation expiry (days)")).to_have_value("45")
    look(page, "settings")


def test_a_product_is_created_through_the_new_product_form(page: Page) -> None:
    create_a_product_through_the_form(page, 5001, inspect_screen)


def test_codes_are_generated_through_the_generate_codes_tab_with_an_example_of_their_format(page: Page) -> None:
    page.goto(f"/products/{PRODUCT}/generate")
    expect(page.get_by_role("heading", name=re.compile("^Generate codes"))).to_be_visible()
    example = page.locator("#example-code")
    # The default format: four groups of five of the default alphabet, made in the browser.
    expect(example).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{5}(-[2-9A-HJ-NP-Z]{5}){3}$"))
    expect(page.locator("#example-strength")).to_contain_text("100.0 bits")
    inspect_screen(page, "generate")
    page.get_by_label("Length", exact=True).fill("7")
    expect(page.locator("#example-strength")).to_contain_text("fewer than the 40 needed")
    page.get_by_label("Quantity").fill("300")
    page.get_by_role("button", name="Generate codes").click()
    # Refused by the server too, beside its field.
    expect(page.locator("#length-error")).to_contain_text("a length of at least")
    inspect_screen(page, "generate-refused")
    page.get_by_label("Length", exact=True).fill("12")
    page.get_by_label("Separator").select_option("")
    expect(example).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{12}$"))
    page.get_by_role("button", name="Generate codes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Upload")
    expect(page.get_by_text("Completed").first).to_be_visible()
    expect(page.locator("#code-count")).to_contain_text("300")


def test_a_webhook_endpoint_is_registered_tested_and_replayed_on_the_webhooks_screen(page: Page) -> None:
    with receiver() as hooks:
        page.goto("/products")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_label("URL", exact=True).fill("ftp://shop.example/hooks")
        page.get_by_role("button", name="Register endpoint").click()
        refused = page.get_by_label("URL", exact=True)
        expect(refused).to_have_attribute("aria-invalid", "true")
        expect(refused).to_have_accessible_description(re.compile(r"^The URL must be an https:// URL with a host\."))
        inspect_screen(page, "webhooks-refused")

        refused.fill(hooks.url)
        page.get_by_label("Description (optional)").fill("the shop's order system")
        page.get_by_role("button", name="Register endpoint").click()
        secret_field = page.get_by_label("Signing secret", exact=True)
        expect(secret_field).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$"))
        secret = secret_field.input_value()
        expect(page.get_by_text("Copy it now: it will not be shown again.")).to_be_visible()
        page.get_by_role("button", name="Copy the secret").click()  # shown by static/webhooks.js
        expect(page.locator("[data-copy-status]")).to_contain_text(re.compile(r"^(Copied|Selected)"))
        inspect_screen(page, "webhooks-secret")

        page.goto("/webhooks")
        expect(page.get_by_label("Signing secret", exact=True)).to_have_count(0)
        assert secret not in page.content()
        endpoints = page.get_by_role("table", name=re.compile(r"^Webhook endpoints of"))
        expect(endpoints.get_by_role("row").filter(has_text=hooks.url)).to_contain_text("Enabled")
        inspect_screen(page, "webhooks")

        endpoints.get_by_role("link", name=re.compile(r"^Endpoint \d+")).click()
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_text(re.compile(r"A webhook.test event \(msg_[0-9a-f]+\) is on its way"))).to_be_visible()
        (got,) = hooks.wait_for(1)
        message_id = got.headers["webhook-id"]
        assert hooks.verifies(secret, got)
        delivery = page.get_by_role("region", name=re.compile(rf"^webhook.test {message_id}"))
        reload_until(page, delivery.get_by_text("Succeeded"))
        expect(
            page.get_by_role("table", name=f"Attempts of {message_id}, newest first").get_by_role("row")
        ).to_have_count(2)
        inspect_screen(page, "webhook-log")

        page.get_by_role("button", name=f"Replay {message_id}").click()
        expect(page.get_by_text(f"Message {message_id} is sent again now, with the same webhook-id.")).to_be_visible()
        hooks.wait_for(2)
    assert [one.headers["webhook-id"] for one in hooks.received] == [message_id, message_id]


def reload_until(page: Page, shown: Locator, timeout: float = 30) -> None:
    """Reload the page until `shown` is on it: a page read when it loads (a
    delivery log) that the worker changes meanwhile."""
    deadline = time.monotonic() + timeout
    while shown.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        page.reload()
    expect(shown).to_be_visible()


PHONE = {"width": 375, "height": 740}


@pytest.fixture
def phone(browser: Browser, server_url: str) -> Iterator[BrowserContext]:
    """A phone-sized browser: 375 CSS px wide, touch, the page's viewport meta honoured."""
    context = browser.new_context(base_url=server_url, viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    yield context
    context.close()


def fits_the_phone(page: Page, name: str) -> None:
    """No sideways scrolling of the page (a .table-wrap may scroll inside
    it); a phone would otherwise also zoom out to show the overflow."""
    widths = page.evaluate(
        "() => [window.innerWidth, document.documentElement.clientWidth, document.documentElement.scrollWidth]"
    )
    assert widths[0] == widths[1] == PHONE["width"] and widths[2] <= widths[0], (name, widths)
    inspect_screen(page, f"{name}-phone")


def test_every_screen_fits_a_phone(
    phone: BrowserContext,
    client: FlaskClient,
    acme: Tenant,
    make_tenant: Any,
    sessions: sessionmaker[Session],
) -> None:
    completed = upload(client, acme, PRODUCT, txt("1234\tPHONE-1", "1234\tPHONE-2\t7\t3")).get_json()["id"]
    long_name = "publisher_build_system_export_of_activation_codes_20261202T173000.txt"  # no break in it
    lines = ["1234\tFINE-1", *(f"9999\tFOREIGN-CODE-WITH-A-LONG-NAME-{n}" for n in range(12))]
    rejected = upload(client, acme, PRODUCT, txt(*lines), filename=long_name).get_json()["id"]
    checked = upload(client, acme, PRODUCT, txt("1234\tCHECKED-1"), dry_run="true").get_json()["id"]
    for upload_id in (completed, rejected, checked):
        assert wait_decided(client, acme, upload_id)["status"] in ("completed", "rejected")
    queued = queued_request(sessions, acme, txt("1234\tWAITING-1"))
    with sessions.begin() as session:
        grant_operator(session, acme.email)
    queued_request(sessions, make_tenant("globex", (4321,)), txt("4321\tTHEIRS-1"))
    # An allocation with every move's button, and one waiting, for the Allocations tab.
    for asked in ({"reference": "cart-of-a-customer-with-a-long-reference-1", "mode": "reserve"},
                  {"reference": "later", "quantity": 5, "backorder": True}):  # fmt: skip
        assert client.post(f"/api/v1/products/{PRODUCT}/allocations", json=asked, headers=acme.auth).status_code < 300

    endpoint = webhook_with_a_delivery(client, acme, sessions)

    page = log_in(phone, acme, lambda login: fits_the_phone(login, "login"))
    screens = [
        ("products", "/products", "Products"),
        ("uploads", f"/products/{PRODUCT}/uploads", "Upload codes"),
        ("request-completed", f"/uploads/{completed}", f"Upload {completed}"),
        ("request-rejected", f"/uploads/{rejected}", f"Upload {rejected}"),
        ("request-queued", f"/uploads/{queued}", f"Upload {queued}"),
        ("codes", f"/products/{PRODUCT}/codes", "Code view"),
        ("allocations", f"/products/{PRODUCT}/allocations", "Allocations"),
        ("stock", f"/products/{PRODUCT}/stock", "Stock"),
        ("generate", f"/products/{PRODUCT}/generate", "Generate codes"),
        ("revoke-confirm", f"/uploads/{completed}/revoke", "Revoke the remaining codes?"),
        ("keys", "/keys", "API keys"),
        ("webhooks", "/webhooks", "Webhooks"),
        ("webhook-log", f"/webhooks/{endpoint}", f"Endpoint {endpoint}"),
        ("webhook-delete", f"/webhooks/{endpoint}/delete", f"Delete endpoint {endpoint}?"),
        ("operator", "/operator", "Operator"),
        ("error", "/uploads/999999999", "Not found"),
    ]
    for name, path, heading in screens:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        fits_the_phone(page, name)
    page.goto(f"/products/{PRODUCT}/uploads")
    expect(row_of(page, long_name)).to_contain_text("Rejected")
    expect(row_of(page, "f.txt")).to_contain_text("Queued")
    create_a_product_through_the_form(page, 5002, fits_the_phone)


def webhook_with_a_delivery(client: FlaskClient, tenant: Tenant, sessions: sessionmaker[Session]) -> int:
    """An endpoint with a long URL and description whose test event the
    worker has delivered (an attempt in its log), and one the server
    disabled with a long reason (a notice on the Webhooks page); the first one's id."""
    with receiver("/hooks/" + "a-long-path-without-a-break" * 4) as hooks:
        body = {"url": hooks.url, "events": ["upload.completed", "reservation.expired"],
                "description": "the order system of the shop, which fulfils the orders of its customers"}  # fmt: skip
        endpoint = client.post("/api/v1/webhooks", json=body, headers=tenant.auth).get_json()["id"]
        assert client.post(f"/api/v1/webhooks/{endpoint}/test", headers=tenant.auth).status_code == 202
        deadline = time.monotonic() + 30
        log = f"/api/v1/webhooks/{endpoint}/deliveries"
        while client.get(log, headers=tenant.auth).get_json()["items"][0]["status"] != "succeeded":
            assert time.monotonic() < deadline, "the test event was not delivered"
            time.sleep(0.2)
    body = {"url": "https://93.184.216.34/" + "x" * 80, "events": ["stock.low"]}
    disabled = client.post("/api/v1/webhooks", json=body, headers=tenant.auth).get_json()["id"]
    with sessions.begin() as session:
        reason = "deliveries failed for 72 hours; the last: the endpoint answered 503"
        session.execute(
            text("UPDATE webhook_endpoints SET enabled = false, disabled_reason = :why WHERE id = :id"),
            {"why": reason, "id": disabled},
        )
    return int(endpoint)
