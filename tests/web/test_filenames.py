"""Neutral file names (dissent.web.filenames): type and size in the page's language, the
extension a program needs, nothing of the name the file came with."""

from __future__ import annotations

import string

import pytest
from flask_babel import force_locale

from dissent.services.metadata import FileType
from dissent.services.uploads import sanitize_filename
from dissent.web.filenames import neutral_filename
from dissent.web.templating import MIB

KB = 1024


def named(app, kind: FileType, size: int, original: str, language: str = "en") -> str:
    with app.test_request_context(), force_locale(language):
        return neutral_filename(kind, size, original)


@pytest.mark.parametrize(
    ("kind", "size", "original", "en", "nl"),
    [
        (
            FileType.JPEG,
            int(1.2 * MIB),
            "IMG_20261204_1403.JPG",
            "Image (JPEG, 1.2 MB).jpg",
            "Afbeelding (JPEG, 1,2 MB).jpg",
        ),
        (FileType.PNG, 3 * KB, "scan.png", "Image (PNG, 3 KB).png", "Afbeelding (PNG, 3 KB).png"),
        (
            FileType.GIF,
            700,
            "a.gif",
            "Image (GIF, 700 bytes).gif",
            "Afbeelding (GIF, 700 bytes).gif",
        ),
        (FileType.WEBP, 2 * MIB, "b", "Image (WebP, 2 MB).webp", "Afbeelding (WebP, 2 MB).webp"),
        (
            FileType.PDF,
            24 * KB,
            "verslag J. de Vries.pdf",
            "Document (PDF, 24 KB).pdf",
            "Document (PDF, 24 KB).pdf",
        ),
        (
            FileType.ZIP,
            int(24.5 * KB),
            "verslag J. de Vries.DOCX",
            "File (DOCX, 24.5 KB).docx",
            "Bestand (DOCX, 24,5 KB).docx",
        ),
        (
            FileType.OTHER,
            int(1.5 * MIB),
            "film.mp4",
            "File (MP4, 1.5 MB).mp4",
            "Bestand (MP4, 1,5 MB).mp4",
        ),
        (FileType.OTHER, 12, "notes", "File (12 bytes)", "Bestand (12 bytes)"),
    ],
)
def test_a_file_is_named_by_its_type_and_size_in_the_page_s_language(
    app, kind, size, original, en, nl
):
    assert named(app, kind, size, original) == en
    assert named(app, kind, size, original, "nl") == nl


@pytest.mark.parametrize(
    ("size", "shown"),
    [(KB - 1, "1,023 bytes"), (KB, "1 KB"), (MIB - 1, "1,024 KB"), (MIB, "1 MB")],
)
def test_the_size_changes_unit_at_the_boundaries(app, size, shown):
    assert named(app, FileType.OTHER, size, "log.txt") == f"File (TXT, {shown}).txt"


@pytest.mark.parametrize(
    ("kind", "original", "extension"),
    [
        # A recognised type is saved with its own extension, whatever the name claimed.
        (FileType.JPEG, "invoice.exe", ".jpg"),
        (FileType.PDF, "photo.jpeg", ".pdf"),
        # Otherwise the original extension, if it is a plain one, in lower case.
        (FileType.OTHER, "archive.tar.GZ", ".gz"),
        (FileType.ZIP, "sheet.xlsx", ".xlsx"),
    ],
)
def test_the_extension_is_the_type_s_or_the_original_one(app, kind, original, extension):
    assert named(app, kind, 2048, original).endswith(extension)


@pytest.mark.parametrize(
    "original",
    [
        "no extension",
        ".bashrc",  # a leading dot: a hidden file's name, not an extension
        "trailing dot.",
        "long.extension1",  # more than 8 characters
        "spaced.tx t",
        'quoted.p"df',
        "unicode.jpé",
        "script.sh;rm",
        "",
    ],
)
def test_an_unknown_type_without_a_plain_extension_gets_none(app, original):
    assert named(app, FileType.OTHER, 2048, original) == "File (2 KB)"
    assert named(app, FileType.OTHER, 2048, original, "nl") == "Bestand (2 KB)"


# What a quoted Content-Disposition file name, and every file system, takes as it is.
SAFE = set(string.ascii_letters + string.digits + " ().,_-")


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("kind", list(FileType))
def test_a_neutral_name_needs_no_escaping_anywhere(app, language, kind):
    for original in ('a".exe', "../../etc/passwd", "x.p\r\nhp", "C:\\Users\\jan\\rapport.Doc"):
        name = named(app, kind, 123_456_789, original, language)

        assert set(name) <= SAFE, name
        assert sanitize_filename(name) == name
        assert "jan" not in name and "passwd" not in name
