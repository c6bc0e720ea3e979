"""Where dissent finds its templates, migrations, static files and catalogues."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dissent import locations
from dissent.locations import migrations_dir, static_dir, templates_dir, translations_dir

ROOT = Path(__file__).resolve().parent.parent


def test_the_development_checkout_uses_its_top_level_templates_and_migrations():
    assert templates_dir() == ROOT / "templates"
    assert (templates_dir() / "base.html").is_file()
    assert migrations_dir() == ROOT / "migrations"
    assert (migrations_dir() / "env.py").is_file()
    assert any((migrations_dir() / "versions").glob("0001_*.py"))


def test_static_files_and_catalogues_are_found_inside_the_package():
    assert (static_dir() / "style.css").is_file()
    assert (translations_dir() / "nl" / "LC_MESSAGES" / "messages.mo").is_file()
    assert static_dir().parent == translations_dir().parent == ROOT / "dissent"


def test_the_folders_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    before = [templates_dir(), migrations_dir(), static_dir(), translations_dir()]

    monkeypatch.chdir(tmp_path)

    assert [templates_dir(), migrations_dir(), static_dir(), translations_dir()] == before
    assert all(path.is_absolute() for path in before)


def test_an_uninstalled_source_checkout_finds_its_own_folders(tmp_path):
    """Without the installed package (no site-packages), the repository's folders serve."""
    probe = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from dissent.locations import migrations_dir, templates_dir\n"
        "print(json.dumps([str(templates_dir()), str(migrations_dir())]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert json.loads(result.stdout) == [str(ROOT / "templates"), str(ROOT / "migrations")]


def test_a_shipped_name_that_is_not_a_folder_falls_back_to_the_repository(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "templates.zip"
    not_a_folder.write_bytes(b"")
    monkeypatch.setattr(locations.resources, "files", lambda _name: not_a_folder)

    assert templates_dir() == ROOT / "templates"
    assert migrations_dir() == ROOT / "migrations"
