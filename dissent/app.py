"""The application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import format_date, format_datetime, format_number, get_locale

from .config import load_settings
from .crypto.secretbox import derive_key
from .extensions import babel, db
from .forms import csrf_token
from .security.headers import set_security_headers
from .security.policy import Access, allow, enforce, reject_nul
from .security.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from .security.session_store import DatabaseSessionStore, RedisSessionStore, SessionStore
from .security.sessions import SplitKnowledgeSessionInterface
from .services.context import install_context

# Each language with its name in itself, for the visible switch.
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
LANGUAGES = tuple(LANGUAGE_NAMES)
# Bodies larger than this are refused before any view runs (attachments come later
# and will raise it for their own route only).
MAX_FORM_BYTES = 256 * 1024


def _package_dir(name: str) -> str:
    """Return the folder of top-level data shipped as ``dissent.<name>``.

    ``templates/`` and ``migrations/`` live at the top of the repository (DESIGN §6)
    and are installed inside the package; this finds them in both layouts.
    """
    try:
        located = resources.files(f"dissent.{name}")
        path = Path(str(located))
        if path.is_dir():
            return str(path)
    except ModuleNotFoundError:
        pass
    return str(Path(__file__).resolve().parent.parent / name)


def select_locale() -> str | None:
    """Return the language: the visible switch's cookie, else the browser's preference."""
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Return a configured dissent application; ``config`` overrides for tests."""
    settings = load_settings(os.environ, config)
    app = Flask(
        "dissent",
        template_folder=_package_dir("templates"),
        static_folder=str(Path(__file__).parent / "static"),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=derive_key(settings.secret_key, purpose="flask-secret-key"),
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=MAX_FORM_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["dissent.settings"] = settings

    db.init_app(app, settings.database_url)
    store: SessionStore
    limiter: RateLimiter
    if settings.redis_url:
        store, limiter = RedisSessionStore(settings.redis_url), RedisRateLimiter(settings.redis_url)
    else:
        store, limiter = DatabaseSessionStore(db.engine(app)), MemoryRateLimiter()
    app.extensions["dissent.ratelimit"] = limiter
    app.session_interface = SplitKnowledgeSessionInterface(
        store,
        staff_ttl=timedelta(minutes=settings.staff_idle_minutes),
        source_ttl=timedelta(minutes=settings.source_idle_minutes),
    )
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(get_locale=get_locale, csrf_token=csrf_token)
    app.jinja_env.filters.update(
        format_date=format_date, format_datetime=format_datetime, format_number=format_number
    )
    app.jinja_env.globals["languages"] = LANGUAGE_NAMES
    install_context(app, settings, limiter)
    _allow_static(app)

    _quiet_request_logging()
    app.before_request(reject_nul)
    app.before_request(enforce)
    app.after_request(set_security_headers)
    _register_blueprints(app)
    from .errors import register_error_handlers

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
    # dissent must never log an address (invariant 2). gunicorn is configured to
    # keep no access log (see dissent/cli/serve.py).
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
