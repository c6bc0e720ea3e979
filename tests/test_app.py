"""create_app: it refuses to start unconfigured and puts the configured layers together."""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask

from dissent.app import create_app
from dissent.config import ConfigError
from dissent.extensions import current_context, db
from dissent.security.ratelimit import DatabaseRateLimiter, RedisRateLimiter
from dissent.security.session_store import DatabaseSessionStore, RedisSessionStore
from tests.helpers.cli import CLEAN_ENV


@pytest.fixture
def build(config) -> Iterator:
    """Return a factory of applications from the test settings with some changed."""
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        made.append(create_app({**config, **changes}))
        return made[-1]

    yield make
    for app in made:
        db.engine(app).dispose()


def test_an_unconfigured_machine_gets_no_application_and_is_told_to_run_init(tmp_path, monkeypatch):
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigError, match="run `dissent init`"):
        create_app({"INSTANCE_PATH": str(tmp_path / "nothing-here")})


def test_an_invalid_secret_stops_the_application_from_starting(config):
    with pytest.raises(ConfigError, match="secret_key must be at least 32 bytes"):
        create_app({**config, "SECRET_KEY": base64.b64encode(b"short").decode()})


def test_flasks_signing_key_is_derived_from_the_instance_secret_not_the_secret_itself(build):
    secret = os.urandom(32)
    first = build(SECRET_KEY=base64.b64encode(secret).decode())
    restarted = build(SECRET_KEY=base64.b64encode(secret).decode())
    other = build(SECRET_KEY=base64.b64encode(os.urandom(32)).decode())

    key = first.config["SECRET_KEY"]
    assert secret not in key and key != base64.b64encode(secret)
    assert restarted.config["SECRET_KEY"] == key  # sessions survive a restart
    assert other.config["SECRET_KEY"] != key


def test_every_area_of_the_site_is_registered(app):
    assert set(app.blueprints) == {
        "public",
        "source",
        "staff",
        "adviser",
        "attachments",
        "leadership",
        "oversight",
        "admin",
    }
    prefixes = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    assert {"staff", "adviser", "leadership", "oversight", "admin", "static"} <= prefixes


def test_the_operator_commands_come_with_the_application(app):
    assert {"mission", "user", "db", "export"} <= set(app.cli.commands)


def test_without_redis_sessions_and_limits_live_in_the_database(app):
    assert isinstance(app.session_interface.store, DatabaseSessionStore)
    with app.app_context():
        assert isinstance(current_context().limiter, DatabaseRateLimiter)


def test_with_redis_configured_sessions_and_limits_are_shared_through_it(build):
    # Nothing listens on port 1: building the application must not connect yet.
    app = build(REDIS_URL="redis://127.0.0.1:1/0")

    assert isinstance(app.session_interface.store, RedisSessionStore)
    with app.app_context():
        assert isinstance(current_context().limiter, RedisRateLimiter)


def test_idle_timeouts_and_the_kdf_bound_reach_the_sessions_and_services(build):
    app = build(STAFF_IDLE_MINUTES=5, SOURCE_IDLE_MINUTES=45, MAX_CONCURRENT_KDF=3)

    assert app.session_interface.staff_ttl == timedelta(minutes=5)
    assert app.session_interface.source_ttl == timedelta(minutes=45)
    with app.app_context():
        context = current_context()
        assert context.kdf_gate.limit == 3
        assert context.settings is app.extensions["dissent.settings"]


def test_the_development_server_logs_no_request_lines(build):
    """Werkzeug logs each request with the client address at INFO: that must not happen."""
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.NOTSET)

    build()

    assert not werkzeug.isEnabledFor(logging.INFO)
    assert werkzeug.isEnabledFor(logging.ERROR)
