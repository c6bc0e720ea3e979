"""The upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from ..web.forms import CsrfForm


class UploadForm(CsrfForm):
    """One file for an observation. The CSRF token arrives in the same multipart body."""

    file = FileField(_l("File"), validators=[FileRequired(message=_l("Choose a file first."))])
