"""The application factory: the one place that puts the layers together."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import IO, Any

from flask import Flask, Request
from werkzeug.formparser import FormDataParser
from werkzeug.routing import IntegerConverter, Map

from .config import INSTANCE_FILE, ConfigError, load_settings
from .crypto.secretbox import derive_key
from .extensions import babel, db, install_context
from .locations import static_dir, templates_dir, translations_dir
from .models.base import RANDOM_ID_MAX
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
# The largest number a route's ``<int:...>`` takes: PostgreSQL's ``integer``, the type
# of the ids a sequence hands out. A larger number names no record: it is no page (a
# 404), where it would reach the database as a value out of its range (a 500).
MAX_ROUTE_INT = 2**31 - 1


class RouteInt(IntegerConverter):
    """``<int:...>`` in a route: a whole number from 0 to :data:`MAX_ROUTE_INT`."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROUTE_INT)
        super().__init__(map, *args, **kwargs)


class RouteBigInt(IntegerConverter):
    """``<bigint:...>`` in a route: a random row id, from 0 to the largest one."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", RANDOM_ID_MAX)
        super().__init__(map, *args, **kwargs)


def _in_memory(*_args: Any, **_kwargs: Any) -> IO[bytes]:
    return io.BytesIO()


class _FormParser(FormDataParser):
    """Werkzeug's form parser, holding a file part in memory (within the form limit).

    Only the upload routes take files, with a parser of their own
    (``web/receive.py``). Elsewhere Werkzeug's default would spool a file part
    to a temporary file, and leave it open when the body breaks off inside the part.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["stream_factory"] = _in_memory
        super().__init__(*args, **kwargs)


class FormRequest(Request):
    """The request of every route: its form parts, files included, held in memory."""

    form_data_parser_class = _FormParser


def create_app(config: Mapping[str, Any] | None = None, *, serving: bool = True) -> Flask:
    """Return a configured dissent application; ``config`` overrides for tests.

    An application that may serve pages needs the instance's public address (outside
    tests); ``serving=False`` is for the command line, whose commands serve none.
    """
    settings = load_settings(os.environ, config)
    if serving and settings.public_url is None and not settings.testing:
        raise ConfigError(
            "no public address: set DISSENT_PUBLIC_URL (or public_url in "
            f"{settings.instance_path / INSTANCE_FILE}) to the address staff reach the "
            "instance at, such as https://dissent.example.org; enrolment links are made "
            "from it, never from what a request claims"
        )
    # Its errors after the view (saving the session) and in clean-up get the error
    # pages too, not Flask's traceback log or the WSGI server's bare page.
    app = ErrorPagesFlask(
        "dissent",
        template_folder=str(templates_dir()),
        static_folder=str(static_dir()),
        instance_path=str(settings.instance_path),
    )
    app.request_class = FormRequest
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
    # Before any blueprint adds a route: each rule takes its converters as it is added.
    app.url_map.converters["int"] = RouteInt
    app.url_map.converters["bigint"] = RouteBigInt
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
    from .oversight.views import bp as oversight_bp
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
        oversight_bp,
        admin_bp,
    ):
        app.register_blueprint(blueprint)
