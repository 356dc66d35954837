"""Web login: e-mail and password, a session cookie (HttpOnly, SameSite=Lax)
made afresh at login, logout by POST with a CSRF token. Password guessing is
limited by web/login_limits.py."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from shared import log_context
from shared.models import Publisher, User
from shared.tenants import authenticate_user, end_sessions
from web.database import db
from web.login_limits import BUSY, HASHING_SLOTS, LOGIN_LIMITS, HashingSlots, LoginLimits, Refusal

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()


@dataclass
class SignedInUser(UserMixin):
    """What a request knows about the person logged in."""

    id: int
    email: str
    publisher_id: int
    publisher_name: str
    session_version: int
    is_operator: bool = False

    def get_id(self) -> str:
        # The cookie names the user and the session version: a cookie kept
        # from before a logout no longer matches and logs nobody in.
        return f"{self.id}:{self.session_version}"


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    app.register_blueprint(blueprint)


@login_manager.user_loader
def _load_user(session_id: str) -> SignedInUser | None:
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db().get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    log_context.bind(publisher_id=user.publisher_id)  # for the rest of this web request
    return _signed_in(user)


def _signed_in(user: User) -> SignedInUser:
    publisher = db().get_one(Publisher, user.publisher_id)
    return SignedInUser(user.id, user.email, user.publisher_id, publisher.name, user.session_version, user.is_operator)


def current_publisher_id() -> int:
    publisher_id: int = current_user.publisher_id
    return publisher_id


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("pages.products"))
    form = LoginForm()
    if form.validate_on_submit():
        return _log_in(form)
    return render_template("login.html", form=form), 400 if request.method == "POST" else 200


def _log_in(form: LoginForm) -> ResponseReturnValue:
    """Check the password unless a limit refuses first (web/login_limits.py):
    a refused login costs no argon2 work and tells nothing more."""
    email, address = form.email.data or "", request.remote_addr or ""
    limits: LoginLimits = current_app.extensions[LOGIN_LIMITS]
    check = limits.check(address, email)
    if check.refusal is not None:
        return _refused(form, check.refusal)
    slots: HashingSlots = current_app.extensions[HASHING_SLOTS]
    with slots.slot() as free:
        if not free:
            return _refused(form, BUSY)
        user = authenticate_user(db(), email, form.password.data or "")
    if user is None:
        limits.failed(address, email, check)
        form.password.errors.append("Wrong e-mail address or password.")
        return render_template("login.html", form=form), 401
    limits.succeeded(address, email)
    # A new session: nothing planted in the cookie before the login
    # (session fixation) carries over, and neither does the CSRF token of
    # the anonymous form; Flask-WTF makes a new one when a form next needs it.
    session.clear()
    login_user(_signed_in(user))
    return redirect(_safe_next(request.args.get("next")))


def _refused(form: LoginForm, refusal: Refusal) -> ResponseReturnValue:
    form.password.errors.append(refusal.message)
    return render_template("login.html", form=form), 429, {"Retry-After": str(refusal.seconds)}


@blueprint.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    end_sessions(db(), current_user.id)
    db().commit()
    logout_user()
    flash("You have logged out.")
    return redirect(url_for("auth.login"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    default = url_for("pages.products")
    if not target:
        return default
    if not target.isprintable():
        return default  # urlsplit drops CR, LF and TAB silently; a header cannot hold them
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
