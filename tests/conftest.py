"""Shared fixtures: a fresh application and database per test, fast KDF parameters.

The database is migrated once per run (through Alembic, as production is) and copied
for each test: an SQLite file, or with ``DISSENT_TEST_DATABASE_URL`` set to a
PostgreSQL server, a database cloned from a migrated template.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import g, has_request_context, request
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dissent.app import create_app
from dissent.crypto import KeyKind, generate_identity
from dissent.crypto.codename import TEST_KDF_PARAMS
from dissent.database import make_engine
from dissent.extensions import current_context, db
from dissent.migrate import upgrade
from dissent.models import Role
from dissent.services import accounts
from tests.helpers.pages import BASE_URL
from tests.helpers.staff import PASSWORD, StaffLogin
from tests.helpers.stores import POSTGRES_URL

# Fixtures kept with their helpers: mail servers.
pytest_plugins = ("tests.helpers.smtp",)


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


@pytest.fixture(scope="session")
def recovery_identity():
    """The instance's offline recovery identity (tests keep it to check invariant 4)."""
    return generate_identity(KeyKind.HYBRID)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Iterator[str]:
    """A database migrated to head once per run; tests get copies of it."""
    if POSTGRES_URL:
        name = f"dissent_tpl_{uuid.uuid4().hex[:8]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield str(path)


_counter = itertools.count()


@pytest.fixture
def database_url(migrated_template, tmp_path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if POSTGRES_URL:
        name = f"dissent_t_{os.getpid()}_{next(_counter)}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"'))
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path / "instance" / "dissent.sqlite3"
    path.parent.mkdir(exist_ok=True)
    shutil.copyfile(migrated_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def config(tmp_path, database_url, recovery_identity) -> dict[str, Any]:
    """Settings for a test instance: explicit secrets, fast key derivation."""
    return {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        "SOURCE_SALT": base64.b64encode(os.urandom(32)).decode(),
        "KEY_KIND": KeyKind.HYBRID.value,
        "RECOVERY_RECIPIENT": recovery_identity.recipient.encode(),
        # Signs evaluators' copies of the periodic report.
        "REPORT_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DATABASE_URL": database_url,
        "KDF_PARAMS": TEST_KDF_PARAMS,
        # Staff passwords are hashed at the lowest cost too (at the production cost a
        # login takes half a second, and the suite logs in thousands of times).
        "PASSWORD_PARAMS": TEST_KDF_PARAMS,
        "STAFF_WRAP_WORK_FACTOR": 10,
        # Where links that leave the site point (enrolment links): the tests' own host.
        "PUBLIC_URL": BASE_URL,
        "TESTING": True,
    }


# Every request is one transaction: a view commits at most once (the services it calls
# never do). Checked on every request of every test, not by a test of its own.
_REQUESTS_COMMITTING_TWICE: list[str] = []


@event.listens_for(Session, "after_commit")
def _count_commits_of_the_request(_session: Session) -> None:
    if has_request_context() and g.get("dissent_test_dispatching"):
        g.dissent_test_commits = g.get("dissent_test_commits", 0) + 1
        if g.dissent_test_commits == 2:
            _REQUESTS_COMMITTING_TWICE.append(f"{request.method} {request.path}")


@pytest.fixture(autouse=True)
def one_transaction_per_request():
    """Fail a test in which any request committed more than once."""
    _REQUESTS_COMMITTING_TWICE.clear()
    yield
    assert _REQUESTS_COMMITTING_TWICE == [], "these requests committed more than once"


@pytest.fixture
def app(config):
    app = create_app(config)

    @app.before_request
    def dispatching() -> None:
        # A request the app dispatches (not a test's own request context).
        g.dissent_test_dispatching = True

    yield app
    db.engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def new_client(app):
    """Return a factory of independent browsers (separate cookie jars)."""
    return app.test_client


@pytest.fixture
def mission(app):
    with app.app_context(), db.unit():
        return accounts.create_mission(db.session, slug="eupol", name="EUPOL Test Mission")


@pytest.fixture
def make_staff(app):
    """Create an enrolled staff account: make_staff(Role.ADVISER, missions=["eupol"])."""

    def make(
        role: Role, *, missions: list[str] | None = None, username: str | None = None
    ) -> StaffLogin:
        username = username or f"{role.value}{next(_counter)}"
        missions = [] if role is Role.ADMIN else (missions if missions is not None else ["eupol"])
        with app.app_context(), db.unit():
            user, _ = accounts.create_account(
                db.session, username=username, role=role, mission_slugs=missions
            )
            secret = accounts.new_totp_secret()
            accounts.enrol_directly(
                db.session, current_context(), user=user, password=PASSWORD, totp_secret=secret
            )
            return StaffLogin(
                id=user.id, username=username, role=role, password=PASSWORD, totp_secret=secret
            )

    return make


@pytest.fixture
def adviser(mission, make_staff) -> StaffLogin:
    """An enrolled adviser of the test mission."""
    return make_staff(Role.ADVISER)


@pytest.fixture
def leader(mission, make_staff) -> StaffLogin:
    """An enrolled leader of the test mission."""
    return make_staff(Role.LEADERSHIP)


@pytest.fixture
def settings(app):
    """The settings the test app runs with."""
    return app.extensions["dissent.settings"]
