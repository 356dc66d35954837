"""The Upload Codes form's enhancements, as far as a test without a browser
sees them: a labelled drop zone around the ordinary file input, a progress
bar hidden until the script shows it, the script itself (a static file, as
the Content-Security-Policy wants), and no markup the plain form depends on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Tenant
from tests.web.test_login import post_login

PRODUCT = 1234
SCREEN = f"/products/{PRODUCT}/uploads"


@pytest.fixture
def screen(client: FlaskClient, make_tenant: Any) -> str:
    tenant: Tenant = make_tenant("acme", (PRODUCT,))
    assert post_login(client, tenant.email, tenant.password).status_code == 302
    return client.get(SCREEN).get_data(as_text=True)


def element(markup: str, pattern: str) -> str:
    found = re.search(pattern, markup, re.S)
    assert found is not None, pattern
    return found.group(0)


def test_the_file_input_sits_in_a_drop_zone_with_its_label(screen: str) -> None:
    zone = element(screen, r'<div class="drop-zone" data-drop-zone>.*?</div>')
    assert '<label for="file">File</label>' in zone
    assert re.search(r'<input type="file" id="file" name="file" required', zone)
    # The words that invite a drop appear only once the script can take one.
    assert re.search(r'<span class="drop-hint" id="drop-hint" hidden>', zone)


def test_the_progress_bar_is_hidden_until_an_upload_starts_and_has_a_live_status(screen: str) -> None:
    form = element(screen, r"<form class=\"upload-form\".*?</form>")
    box = element(form, r'<div class="upload-progress" id="upload-progress" hidden>.*?</div>')
    assert re.search(r'<progress id="upload-progress-bar" max="100" value="0">0%</progress>', box)
    assert '<label for="upload-progress-bar">' in box
    assert '<p class="upload-status" id="upload-status" role="status"></p>' in form
    assert form.index('id="upload-status"') < form.index('type="submit"')


def test_the_script_is_a_deferred_static_file_served_to_the_page(client: FlaskClient, screen: str) -> None:
    assert re.search(r'<script src="/static/upload\.js" defer></script>', screen)
    assert "<script>" not in screen and " style=" not in screen
    script = client.get("/static/upload.js")
    assert script.status_code == 200 and "upload.onprogress" in script.get_data(as_text=True)
    script.close()


def test_the_form_still_posts_as_a_plain_form(screen: str) -> None:
    form = element(screen, r"<form class=\"upload-form\"[^>]*>")
    assert 'method="post"' in form and 'enctype="multipart/form-data"' in form
    assert f'action="{SCREEN}"' in form
