"""The API keys page: the publisher's keys, a form to create one, a button
to revoke each active one.

A new key is rendered once, in the response to the POST that created it: not
through a redirect and a flashed message, which would carry it in the
session cookie, and never in a URL. Only its keyed hash is stored
(shared.apikeys), so it cannot be shown again.

Every lookup goes through the logged-in publisher: another publisher's key
prefix is a 404, exactly like a missing one.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required

from shared.models import Publisher
from shared.tenants import api_keys_of, create_api_key, revoke_api_key
from web.auth import current_publisher_id
from web.database import db

blueprint = Blueprint("keys", __name__)
MAX_LABEL_LENGTH = 100  # the width of api_keys.label


@blueprint.get("/keys")
@login_required
def keys() -> ResponseReturnValue:
    return _keys_page()


@blueprint.post("/keys")
@login_required
def create_key() -> ResponseReturnValue:
    label = request.form.get("label", "").strip()[:MAX_LABEL_LENGTH]
    secret_key = current_app.extensions["licensecodes.settings"].secret_key
    new_key = create_api_key(db(), _publisher(), secret_key, label)
    db().commit()
    # The page holds the key: web.security sends it no-store, as every page.
    return _keys_page(new_key=new_key, new_label=label)


@blueprint.post("/keys/<prefix>/revoke")
@login_required
def revoke_key(prefix: str) -> ResponseReturnValue:
    revoke_api_key(db(), _publisher(), prefix)  # NotFound (404) for a key not ours, or not active
    db().commit()
    flash(f"API key lc_{prefix} is revoked; calls made with it are refused from now on.")
    return redirect(url_for("keys.keys"), 303)


def _keys_page(new_key: str | None = None, new_label: str = "") -> str:
    return render_template(
        "keys.html",
        keys=api_keys_of(db(), current_publisher_id()),
        new_key=new_key,
        new_label=new_label,
        max_label_length=MAX_LABEL_LENGTH,
    )


def _publisher() -> Publisher:
    return db().get_one(Publisher, current_publisher_id())
