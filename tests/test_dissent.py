"""The package's own entry point: ``dissent.create_app``, as Flask and callers find it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask.cli import ScriptInfo

import dissent
from dissent.config import ConfigError, write_instance_file
from dissent.extensions import db
from tests.helpers.cli import CLEAN_ENV
from tests.helpers.pages import BASE_URL

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch):
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_package_factory_builds_a_working_application(config):
    app = dissent.create_app(config)
    try:
        response = app.test_client().get("/", base_url=BASE_URL)

        assert response.status_code == 200
        assert app.extensions["dissent.settings"].instance_path == Path(config["INSTANCE_PATH"])
    finally:
        db.engine(app).dispose()


def test_the_package_factory_refuses_an_unconfigured_instance(tmp_path, clean_env):
    with pytest.raises(ConfigError, match="dissent init"):
        dissent.create_app({"INSTANCE_PATH": str(tmp_path / "nothing-here")})


def test_flask_app_dissent_finds_the_factory_and_reads_the_instance_file(config, clean_env):
    """``flask --app dissent`` calls ``create_app()`` without arguments."""
    instance = Path(config["INSTANCE_PATH"])
    write_instance_file(
        instance,
        {
            "secret_key": config["SECRET_KEY"],
            "source_salt": config["SOURCE_SALT"],
            "key_kind": config["KEY_KIND"],
            "recovery_recipient": config["RECOVERY_RECIPIENT"],
            "database_url": config["DATABASE_URL"],
            "public_url": config["PUBLIC_URL"],
        },
    )
    clean_env.setenv("DISSENT_INSTANCE", str(instance))

    app = ScriptInfo(app_import_path="dissent").load_app()
    try:
        settings = app.extensions["dissent.settings"]
        assert settings.instance_path == instance.resolve()
        assert settings.recovery_recipient.encode() == config["RECOVERY_RECIPIENT"]
        assert app.test_client().get("/", base_url=BASE_URL).status_code == 200
    finally:
        db.engine(app).dispose()


def test_importing_the_package_does_not_load_the_web_stack(tmp_path):
    """Tools that need only ``dissent.crypto`` do not pay for Flask and the database."""
    probe = (
        "import json, sys\n"
        "import dissent\n"
        "print(json.dumps([m for m in ('flask', 'sqlalchemy', 'dissent.app')"
        " if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert json.loads(result.stdout) == []
