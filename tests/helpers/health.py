"""What `dissent doctor` and `dissent serve` look for: an instance file, a schema left
behind, and what killed uploads and crashes leave in the blob folder."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import Engine

from dissent.config import Settings, write_instance_file
from dissent.migrate import alembic_config
from dissent.services import storage

HOUR = 3600


def instance_file_of(config: dict) -> Path:
    """Write the instance file `dissent init` would for the test ``config``; return it.

    Its database is the test's, so `dissent serve` started from it runs on that.
    """
    return write_instance_file(
        Path(config["INSTANCE_PATH"]),
        {
            "secret_key": config["SECRET_KEY"],
            "source_salt": config["SOURCE_SALT"],
            "key_kind": config["KEY_KIND"],
            "recovery_recipient": config["RECOVERY_RECIPIENT"],
            "database_url": config["DATABASE_URL"],
            "public_url": config["PUBLIC_URL"],
        },
    )


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision`` ("-1", "base", ...)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    engine.dispose()


def part_file(settings: Settings, *, age_seconds: float) -> Path:
    """Return the part file of an upload that stopped ``age_seconds`` ago (0: one still
    being written)."""
    blob = storage.new_blob(settings)
    blob.file.write(b"the first bytes of a ciphertext")
    blob.file.close()
    if age_seconds:
        moment = time.time() - age_seconds
        os.utime(blob.temp_path, (moment, moment))
    return blob.temp_path


def orphan_blob(settings: Settings, *, days_ago: int = 2) -> Path:
    """Return a blob file published ``days_ago`` whose record was never committed (a
    crash between the rename and the commit)."""
    blob = storage.new_blob(settings)
    blob.file.write(b"a ciphertext nobody will ask for")
    blob.publish()  # dated to today's midnight, as every published blob
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    moment = (midnight - timedelta(days=days_ago)).timestamp()
    os.utime(blob.path, (moment, moment))
    return blob.path


def blob_files(settings: Settings) -> set[str]:
    """Return the names of the files in the blob folder."""
    return set(os.listdir(storage.blob_dir(settings)))
