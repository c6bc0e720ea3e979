"""Neutral file names: what a source's file is stored as unless they keep its own name.

A file's name often says who made it ("report_jvdberg_final.docx", "IMG_20261204_1403.jpg"
with the day and minute of the photo). By default a source's file is stored as its type
and size in the language of the page it was sent from: "Image (JPEG, 1.2 MB).jpg",
"Afbeelding (JPEG, 1,2 MB).jpg". The extension stays, so the adviser's computer opens it
with the right program. Such a name is plain ASCII apart from the language's own words,
and has nothing a file system or ``Content-Disposition`` refuses (no quote, slash,
colon or control character).
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

from ..services.metadata import FileType
from .templating import filesize

# The extension a sniffed type is saved with, whatever the name it came with said: the
# type was read from the file's first bytes, not from its name.
_EXTENSIONS = {
    FileType.JPEG: "jpg",
    FileType.PNG: "png",
    FileType.PDF: "pdf",
    FileType.GIF: "gif",
    FileType.WEBP: "webp",
}
_SHORT_TYPE = {
    FileType.JPEG: "JPEG",
    FileType.PNG: "PNG",
    FileType.PDF: "PDF",
    FileType.GIF: "GIF",
    FileType.WEBP: "WebP",
}
# An extension kept from the original name: letters and digits only, as office
# documents, archives, videos and sound files have.
_KEPT_EXTENSION = re.compile(r"[A-Za-z0-9]{1,8}")


def _extension_of(original: str) -> str:
    """Return the original name's extension if it is a plain one, else ""."""
    stem, dot, extension = original.rpartition(".")
    if dot and stem and _KEPT_EXTENSION.fullmatch(extension):
        return extension.lower()
    return ""


def neutral_filename(kind: FileType, size: int, original: str) -> str:
    """Return a name made of the file's type and size, with the extension its type has
    (or the original one for a type dissent does not recognise)."""
    extension = _EXTENSIONS.get(kind) or _extension_of(original)
    size_text = filesize(size)
    if kind in (FileType.JPEG, FileType.PNG, FileType.GIF, FileType.WEBP):
        name = _("Image (%(type)s, %(size)s)", type=_SHORT_TYPE[kind], size=size_text)
    elif kind is FileType.PDF:
        name = _("Document (PDF, %(size)s)", size=size_text)
    elif extension:
        name = _("File (%(type)s, %(size)s)", type=extension.upper(), size=size_text)
    else:
        name = _("File (%(size)s)", size=size_text)
    return f"{name}.{extension}" if extension else str(name)
