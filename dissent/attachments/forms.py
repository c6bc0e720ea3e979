"""The upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField

from ..web.forms import CsrfForm


class UploadForm(CsrfForm):
    """One file for an observation. The CSRF token arrives in the same multipart body."""

    file = FileField(_l("File"), validators=[FileRequired(message=_l("Choose a file first."))])
    # A source's file is stored under a neutral name unless this is ticked; an
    # adviser's keeps its own (the box is not offered to them).
    keep_name = BooleanField(_l("Keep the file name"), default=False)


class RemoveFileForm(CsrfForm):
    """The source confirms that a file of theirs is to be removed."""
