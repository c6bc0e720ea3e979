"""Packaging: a wheel carries the code, templates, migrations and data dissent needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folders installed inside the package, as pyproject.toml's package-dir maps them.
SOURCE_ROOTS = {
    "dissent": "dissent",
    "templates": "dissent.templates",
    "migrations": "dissent.migrations",
}
NEEDED = [
    "dissent/app.py",
    "dissent/py.typed",
    "dissent/static/style.css",
    "dissent/crypto/wordlists/eff_large.txt",
    "dissent/crypto/wordlists/nl.txt",
    "dissent/crypto/wordlists/en.txt",
    "dissent/translations/nl/LC_MESSAGES/messages.mo",
    "dissent/templates/base.html",
    "dissent/templates/public/index.html",
    "dissent/migrations/env.py",
    "dissent/migrations/script.py.mako",
    "dissent/migrations/versions/0001_initial_schema.py",
]


def shipped_folders() -> dict[str, Path]:
    """Return every source folder with files in it or below, by its installed package name."""
    folders = {}
    for top, package in SOURCE_ROOTS.items():
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            if not folder.is_dir() or "__pycache__" in folder.parts:
                continue
            files = (path for path in folder.rglob("*") if "__pycache__" not in path.parts)
            if any(path.is_file() for path in files):
                relative = folder.relative_to(ROOT / top).parts
                folders[".".join((package, *relative))] = folder
    return folders


def files_to_ship() -> set[str]:
    """Return the wheel paths of the code, templates, migrations and data in the tree."""
    wanted = set()
    for package, folder in shipped_folders().items():
        prefix = package.replace(".", "/")
        for path in folder.iterdir():
            if path.suffix in {".py", ".html", ".mako", ".css", ".txt", ".mo", ".typed"}:
                wanted.add(f"{prefix}/{path.name}")
    return wanted


def test_every_folder_is_a_listed_package():
    """setuptools packs only the listed packages: a new folder must be added to pyproject."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])

    assert set(shipped_folders()) - listed == set(), "add these to pyproject.toml's packages"
    assert listed - set(shipped_folders()) == set(), "these packages have no folder"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a clean copy of the sources (no stale build/ directory)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in SOURCE_ROOTS:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (built,) = out.glob("dissent-*.whl")
    return built


@pytest.mark.slow
def test_wheel_carries_templates_migrations_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    assert set(NEEDED) - names == set()
    assert files_to_ship() - names == set()
    top_level = {name.split("/", 1)[0] for name in names if not name.startswith("dissent-")}
    assert top_level == {"dissent"}


@pytest.mark.slow
def test_installed_wheel_finds_templates_and_migrations(wheel, tmp_path):
    """Unpacked like site-packages, outside the repository, dissent finds and runs them."""
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import json, sys\n"
        "from dissent.locations import migrations_dir, templates_dir\n"
        "from dissent.database import make_engine\n"
        "from dissent.migrate import upgrade\n"
        "from sqlalchemy import inspect\n"
        "engine = make_engine(f'sqlite:///{sys.argv[1]}')\n"
        "upgrade(engine)\n"
        "print(json.dumps({'templates': str(templates_dir()),\n"
        "    'migrations': str(migrations_dir()),\n"
        "    'tables': inspect(engine).get_table_names()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "probe.sqlite3")],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    found = json.loads(result.stdout)

    assert Path(found["templates"]) == site / "dissent" / "templates"
    assert Path(found["migrations"]) == site / "dissent" / "migrations"
    assert (Path(found["templates"]) / "base.html").is_file()
    assert (Path(found["migrations"]) / "versions" / "0001_initial_schema.py").is_file()
    assert "observation" in found["tables"]
