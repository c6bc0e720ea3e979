"""The files section of an observation, rendered for the page that shows it.

The source's inbox and the adviser's observation page each show an observation's files
and the upload form; they call :func:`attachments_block` and place the HTML it returns
(``attachments_blocks[ref]`` and ``attachments_block`` in their templates).
"""

from __future__ import annotations

from flask import render_template, url_for
from markupsafe import Markup

from ..crypto import Identity
from ..extensions import db
from ..models import Observation, State
from ..services import attachments
from .forms import UploadForm


def attachments_block(observation: Observation, identity: Identity, *, for_source: bool) -> Markup:
    """Return the HTML of an observation's files (decrypted for ``identity``) and upload form.

    ``for_source`` chooses the source's routes, the metadata warning and "You" for their
    own files; otherwise the adviser's routes and the advisers' usernames.
    """
    role = "source" if for_source else "adviser"
    html = render_template(
        "attachments/_block.html",
        attachments=attachments.list_attachments(
            db.session, observation, identity, for_staff=not for_source
        ),
        download_endpoint=f"attachments.{role}_download",
        # Not bound to the request: the page may be answering another form's POST.
        upload_form=UploadForm(formdata=None),
        action_url=url_for(f"attachments.{role}_upload", ref=observation.ref),
        for_source=for_source,
        upload_ref=observation.ref,
        can_upload=not (for_source and observation.state is State.CLOSED),
    )
    return Markup(html)  # noqa: S704 - rendered by Jinja with autoescaping
