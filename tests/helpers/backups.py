"""A live instance (SQLite, or PostgreSQL in a database of its own) with one observation
and one attachment, archives to tamper with, and new PostgreSQL databases to restore into."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from dissent.app import create_app
from dissent.config import Settings
from dissent.crypto import KeyKind
from dissent.crypto.codename import TEST_KDF_PARAMS
from dissent.extensions import current_context, db
from dissent.models import AuditEntry, Role
from dissent.services import accounts
from dissent.services.audit import Verification, verify_chain
from dissent.services.backup import BackupError, restore_backup
from dissent.services.instance import initialise_instance
from tests.helpers.files import random_bytes, upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import PASSWORD
from tests.helpers.stores import POSTGRES_URL

WHAT = "The readiness figures for the second quarter were copied from the first."
FAST = {"KDF_PARAMS": TEST_KDF_PARAMS, "STAFF_WRAP_WORK_FACTOR": 10, "TESTING": True}


@dataclasses.dataclass(frozen=True)
class Live:
    """An instance folder and the codename of the source who filed its observation."""

    path: Path
    codename: str


def serve(path: Path):
    """Return the application of the instance in ``path`` (fast key derivation)."""
    return create_app({"INSTANCE_PATH": str(path), **FAST})


def make_live(path: Path, *, database_url: str | None = None) -> Live:
    """Create an instance in ``path`` with one observation that holds one attachment
    (its database an SQLite file in ``path``, or the empty database at ``database_url``)."""
    initialise_instance(
        path, kind=KeyKind.X25519, threshold=2, custodians=3, database_url=database_url
    )
    app = serve(path)
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eupol", name="EUPOL")
        user, _ = accounts.create_account(
            db.session, username="adviser", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        accounts.enrol_directly(
            db.session,
            current_context(),
            user=user,
            password=PASSWORD,
            totp_secret=accounts.new_totp_secret(),
        )
    browser = app.test_client()
    codename = submit_observation(browser, what=WHAT)
    inbox = browser.get("/inbox", base_url=BASE_URL)
    ref = re.search(rb'id="thread-([A-Z0-9]{4}-[A-Z0-9]{4})"', inbox.data).group(1).decode()
    response = upload(
        browser,
        f"/inbox/{ref}/attachments",
        random_bytes(20_000),
        "roster.bin",
        token_page="/inbox",
        keep_name=True,  # the tests look for the name after a restore
    )
    assert response.status_code == 303
    db.engine(app).dispose()
    return Live(path, codename)


def copy_live(pristine: Live, path: Path) -> Live:
    """Return a copy of the instance ``pristine`` in ``path`` (tests may damage it)."""
    shutil.copytree(pristine.path, path)
    return Live(path, pristine.codename)


def settings_of(path: Path) -> Settings:
    """Return the settings the instance in ``path`` runs with."""
    app = serve(path)
    with app.app_context():
        settings = current_context().settings
    db.engine(app).dispose()
    return settings


def inbox_of(path: Path, codename: str) -> bytes:
    """Return the inbox the source with ``codename`` sees on the instance in ``path``."""
    app = serve(path)
    browser = app.test_client()
    page = browser.get("/login", base_url=BASE_URL)
    login = browser.post(
        "/login", data={"csrf_token": csrf_from(page), "codename": codename}, base_url=BASE_URL
    )
    assert login.status_code == 303  # the instance secrets came back: the codename works
    inbox = browser.get("/inbox", base_url=BASE_URL).data
    db.engine(app).dispose()
    return inbox


def ledger_of(path: Path) -> tuple[list[str], Verification]:
    """Return the actions in the audit ledger of the instance in ``path``, oldest first,
    and the verdict of checking its chain."""
    app = serve(path)
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        verdict = verify_chain(db.session)
    db.engine(app).dispose()
    return actions, verdict


def rewrite(archive: Path, out: Path, change) -> None:
    """Copy ``archive`` to ``out``, passing each (name, bytes) through ``change``."""
    with tarfile.open(archive) as source, tarfile.open(out, "w") as target:
        for member in source:
            data = source.extractfile(member).read()
            for name, content in change(member.name, data):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                target.addfile(info, io.BytesIO(content))


def repack(
    archive: Path,
    out: Path,
    change=lambda name, data: data,
    manifest_change=None,
    rename: dict[str, str] | None = None,
):
    """Copy ``archive`` to ``out`` with members changed (None drops one) or renamed and
    backup.json rewritten to match them, as a careful forger (or a buggy tool) would."""
    with tarfile.open(archive) as source:
        files = {m.name: source.extractfile(m).read() for m in source}
    manifest = json.loads(files.pop("backup.json"))
    kept = {}
    for name, data in files.items():
        changed = change(name, data)
        if changed is not None:
            kept[(rename or {}).get(name, name)] = changed
    manifest["members"] = {n: hashlib.sha256(d).hexdigest() for n, d in kept.items()}
    manifest["sizes"] = {n: len(d) for n, d in kept.items()}
    if manifest_change is not None:
        manifest_change(manifest)
    with tarfile.open(out, "w") as target:
        for name, data in [("backup.json", json.dumps(manifest).encode()), *kept.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))


def assert_restore_refused(bad: Path, folder: Path, message: str) -> None:
    """Check restoring ``bad`` into ``folder``/restored is refused and leaves nothing."""
    with pytest.raises(BackupError, match=message):
        restore_backup(bad, folder / "restored")
    assert not (folder / "restored").exists()
    assert not [p for p in folder.iterdir() if ".restore-" in p.name]


def _why_postgres_backups_cannot_run() -> str:
    if not POSTGRES_URL:
        return "needs DISSENT_TEST_DATABASE_URL (PostgreSQL)"
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        return f"needs {' and '.join(missing)} (apt-get install postgresql-client)"
    return ""


# Marks the tests that back up and restore PostgreSQL instances.
NEEDS_POSTGRES = pytest.mark.skipif(
    bool(_why_postgres_backups_cannot_run()),
    reason=_why_postgres_backups_cannot_run() or "PostgreSQL is there",
)


def tables_in(database_url: str) -> list[str]:
    """Return the names of the tables in the PostgreSQL database at ``database_url``."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).scalars()
        found = list(names)
    engine.dispose()
    return found
