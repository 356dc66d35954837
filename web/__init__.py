"""The web process: publisher screens and the REST API, built by
`create_app(settings)`. Views are thin: parse, call shared/, render."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.config import Settings
from web.dispatch import Dispatcher

MULTIPART_OVERHEAD_BYTES = 64 * 1024


def create_app(settings: Settings) -> Flask:
    """Build the app for settings whose service URLs are set
    (`shared.services.connect` fills them in)."""
    from web import (
        api,
        auth,
        database,
        errors,
        generate_form,
        health,
        input_guard,
        keys,
        log_context,
        login_limits,
        metrics,
        openapi,
        operator,
        pages,
        pool_screens,
        product_forms,
        ratelimit,
        redirects,
        screens,
        security,
        url_keys,
        webhook_screens,
    )

    assert settings.database_url and settings.redis_url, "connect the services first"
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # The file itself is held to the limit exactly (web.receive); this
        # refuses at once a body that cannot fit, multipart overhead allowed.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
    )
    app.extensions["licensecodes.settings"] = settings
    # First of all hooks: a request the front refused is answered unread.
    app.before_request(errors.answer_front_refusals)
    if settings.trusted_proxies:
        # The client address (the login limits count by it) from the
        # X-Forwarded-For of that many proxies in front; nothing else of
        # theirs is believed (docs/operating.md#password-guessing).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=0)  # type: ignore[method-assign]
    database.init_app(app, settings.database_url)
    health.init_app(app, settings.redis_url)
    app.extensions["licensecodes.dispatcher"] = Dispatcher(settings.redis_url)
    # The first hooks: a key in a URL, a control character or a routing redirect is dealt with before
    # any other hook reads the query or the caller's key.
    url_keys.init_app(app)
    input_guard.init_app(app)
    redirects.init_app(app)
    ratelimit.init_app(app, settings)
    login_limits.init_app(app, settings)
    log_context.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(product_forms.blueprint)
    app.register_blueprint(generate_form.blueprint)
    app.register_blueprint(screens.blueprint)
    app.register_blueprint(pool_screens.blueprint)
    app.register_blueprint(keys.blueprint)
    app.register_blueprint(webhook_screens.blueprint)
    app.register_blueprint(operator.blueprint)
    app.register_blueprint(health.blueprint)
    metrics.init_app(app, settings)
    return app
