"""The application factory: the one place that puts the layers together."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask

from .config import load_settings
from .crypto.secretbox import derive_key
from .extensions import babel, db, install_context
from .locations import static_dir, templates_dir, translations_dir
from .security.headers import set_security_headers
from .security.policy import Access, allow, enforce, reject_nul
from .security.ratelimit import DatabaseRateLimiter, RedisRateLimiter
from .security.session_store import DatabaseSessionStore, RedisSessionStore, SessionStore
from .security.sessions import SplitKnowledgeSessionInterface
from .services.context import RateLimiter, service_context
from .web.errors import ErrorPagesFlask, register_error_handlers
from .web.i18n import select_locale
from .web.templating import install_template_helpers

# Bodies larger than this are refused before any view runs (the upload routes raise it
# for their own requests only).
MAX_FORM_BYTES = 256 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Return a configured dissent application; ``config`` overrides for tests."""
    settings = load_settings(os.environ, config)
    # Its errors after the view (saving the session) and in clean-up get the error
    # pages too, not Flask's traceback log or the WSGI server's bare page.
    app = ErrorPagesFlask(
        "dissent",
        template_folder=str(templates_dir()),
        static_folder=str(static_dir()),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=derive_key(settings.secret_key, purpose="flask-secret-key"),
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
        BABEL_TRANSLATION_DIRECTORIES=str(translations_dir()),
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["dissent.settings"] = settings

    db.init_app(app, settings.database_url)
    store: SessionStore
    limiter: RateLimiter
    if settings.redis_url:
        store, limiter = RedisSessionStore(settings.redis_url), RedisRateLimiter(settings.redis_url)
    else:
        # Without Redis both are shared through the database, so several workers (or
        # hosts) count one account's attempts together (decision 18).
        store = DatabaseSessionStore(db.engine(app))
        limiter = DatabaseRateLimiter(
            db.engine(app), secret=derive_key(settings.secret_key, purpose="rate-limit-names")
        )
    app.session_interface = SplitKnowledgeSessionInterface(
        store,
        staff_ttl=timedelta(minutes=settings.staff_idle_minutes),
        source_ttl=timedelta(minutes=settings.source_idle_minutes),
    )
    install_context(app, service_context(settings, limiter))
    babel.init_app(app, locale_selector=select_locale)
    install_template_helpers(app)
    _allow_static(app)

    _quiet_request_logging()
    app.before_request(reject_nul)
    app.before_request(enforce)
    app.after_request(set_security_headers)
    _register_blueprints(app)
    register_error_handlers(app)
    from .cli.export import export
    from .cli.manage import db_group, mission, user

    for command in (mission, user, db_group, export):
        app.cli.add_command(command)
    return app


def _allow_static(app: Flask) -> None:
    """Give Flask's own static-file view its (public) access rule."""
    serve = app.view_functions["static"]

    @allow(Access.PUBLIC)
    def static(filename: str) -> Any:
        return serve(filename=filename)

    app.view_functions["static"] = static


def _quiet_request_logging() -> None:
    # Werkzeug's development server logs every request with the client address;
    # dissent must never log an address. gunicorn is configured to keep no access log
    # (see dissent/cli/instance.py).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _register_blueprints(app: Flask) -> None:
    from .admin.views import bp as admin_bp
    from .adviser.views import bp as adviser_bp
    from .attachments.views import bp as attachments_bp
    from .leadership.views import bp as leadership_bp
    from .public.views import bp as public_bp
    from .source.views import bp as source_bp
    from .staff.views import bp as staff_bp

    for blueprint in (
        public_bp,
        source_bp,
        staff_bp,
        adviser_bp,
        attachments_bp,
        leadership_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
