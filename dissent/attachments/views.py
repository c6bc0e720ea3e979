"""Upload and download routes for the source's and the adviser's attachments."""

from __future__ import annotations

import base64
from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _

from ..extensions import db
from ..models import Observation, Sender, StaffUser
from ..security.policy import Access, allow
from ..services import attachments, inbox
from ..services.attachments import (
    AttachmentError,
    AttachmentTooLarge,
    AttachmentUnreadable,
    Download,
    EmptyAttachment,
    ObservationFull,
    TooManyAttachments,
)
from ..services.context import current_context
from ..services.errors import InvalidState, NotFound
from ..services.sources import source_identity
from ..staff.identity import current_identity, current_staff
from .forms import UploadForm
from .receive import receive_upload

bp = Blueprint("attachments", __name__)
REF_LENGTH = 9
MIB = 1024 * 1024


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    """Return a size for people: bytes, KB or MB (powers of 1024, as most systems show)."""
    if size < 1024:
        text = _("%(n)s bytes", n=format_decimal(size))
    elif size < MIB:
        text = _("%(n)s KB", n=format_decimal(round(size / 1024, 1)))
    else:
        text = _("%(n)s MB", n=format_decimal(round(size / MIB, 1)))
    return str(text)


@bp.app_template_global()
def attachment_limits() -> dict[str, int]:
    """Return the limits, for the upload form's text (one source of truth)."""
    return {
        "file": attachments.MAX_ATTACHMENT_BYTES,
        "count": attachments.MAX_ATTACHMENTS_PER_OBSERVATION,
        "total": attachments.MAX_TOTAL_BYTES_PER_OBSERVATION,
    }


# --- uploading -------------------------------------------------------------------------


def _message(exc: AttachmentError | InvalidState) -> str:
    """Return what to tell the user about a refused upload."""
    if isinstance(exc, AttachmentTooLarge) and exc.limit < attachments.MAX_ATTACHMENT_BYTES:
        text = _(
            "This file is too large for the room left in this observation (%(size)s).",
            size=filesize(exc.limit),
        )
    elif isinstance(exc, AttachmentTooLarge):
        text = _(
            "This file is too large: the most a file can be is %(size)s.", size=filesize(exc.limit)
        )
    elif isinstance(exc, TooManyAttachments):
        text = _(
            "This observation already has %(n)s files, the most it can hold.",
            n=attachments.MAX_ATTACHMENTS_PER_OBSERVATION,
        )
    elif isinstance(exc, ObservationFull):
        text = _(
            "The files of this observation would exceed %(size)s together.",
            size=filesize(attachments.MAX_TOTAL_BYTES_PER_OBSERVATION),
        )
    elif isinstance(exc, EmptyAttachment):
        text = _("This file is empty. Choose another file.")
    elif isinstance(exc, InvalidState):
        text = _("This observation is closed; it takes no more files.")
    else:
        text = _("This file could not be attached.")
    return str(text)


def _upload(
    observation: Observation, *, staff: StaffUser | None, done_url: str, action_url: str
) -> ResponseReturnValue:
    """Receive, store and redirect; or show the form again with what went wrong."""
    ctx = current_context()
    sender = Sender.ADVISER if staff is not None else Sender.SOURCE
    try:
        upload = attachments.start_upload(db.session, ctx, observation=observation, sender=sender)
    except (AttachmentError, InvalidState) as exc:
        # Refused before reading the body: nothing of the file is received at all.
        form = UploadForm(formdata=None)
        form.file.errors = [_message(exc)]
        return _page(form, observation, action_url, done_url, staff=staff, status=400)
    try:
        receive_upload(upload.sink)
        form = UploadForm()
        if form.validate():
            if form.file.data.stream is not upload.sink:
                # The first file part was not the one named "file" (no browser sends
                # that): refuse rather than guess which part was meant.
                raise AttachmentError
            attachments.store_upload(db.session, ctx, upload, staff=staff)
            return redirect(done_url, code=303)
        status = 400
    except AttachmentError as exc:
        form = UploadForm(formdata=None)
        form.file.errors = [_message(exc)]
        status = 413 if isinstance(exc, AttachmentTooLarge) else 400
    finally:
        upload.discard()
    return _page(form, observation, action_url, done_url, staff=staff, status=status)


def _page(
    form: UploadForm,
    observation: Observation,
    action_url: str,
    done_url: str,
    *,
    staff: StaffUser | None,
    status: int,
) -> ResponseReturnValue:
    return render_template(
        "attachments/upload.html",
        upload_form=form,
        action_url=action_url,
        back_url=done_url,
        for_source=staff is None,
        upload_ref=observation.ref,
    ), status


@bp.route("/inbox/<ref>/attachments", methods=["POST"])
@allow(Access.SOURCE)
def source_upload(ref: str) -> ResponseReturnValue:
    """Attach a file to one of the source's own observations."""
    try:
        observation = attachments.source_observation(
            db.session, source_id=session["source_id"], ref=ref
        )
    except NotFound:
        abort(404)
    return _upload(
        observation,
        staff=None,
        done_url=url_for("source.inbox", _anchor="thread-" + observation.ref),
        action_url=url_for("attachments.source_upload", ref=observation.ref),
    )


def _adviser_observation(ref: str) -> Observation:
    if len(ref) != REF_LENGTH:
        abort(404)
    try:
        return inbox.observation_for_adviser(db.session, current_staff(), ref.upper())
    except NotFound:
        abort(404)


@bp.route("/adviser/o/<ref>/attachments", methods=["POST"])
@allow(Access.ADVISER)
def adviser_upload(ref: str) -> ResponseReturnValue:
    """Attach a file to an observation of the adviser's missions."""
    observation = _adviser_observation(ref)
    return _upload(
        observation,
        staff=current_staff(),
        done_url=url_for("adviser.observation", ref=observation.ref, _anchor="attachments"),
        action_url=url_for("attachments.adviser_upload", ref=observation.ref),
    )


# --- downloading -----------------------------------------------------------------------


def content_disposition(filename: str) -> str:
    """Return a Content-Disposition that saves the file under ``filename`` (RFC 6266/5987)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _send(download: Download) -> Response:
    """Return a streaming response that browsers save and never display."""
    response = Response(
        download.chunks, mimetype="application/octet-stream", direct_passthrough=True
    )
    response.headers["Content-Disposition"] = content_disposition(download.filename)
    # Announced, so a download cut short by a failed chunk is seen as incomplete.
    response.headers["Content-Length"] = str(download.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/inbox/attachments/<int:attachment_id>")
@allow(Access.SOURCE)
def source_download(attachment_id: int) -> ResponseReturnValue:
    """Send a file of one of the source's observations, decrypted as it streams."""
    ctx = current_context()
    identity = source_identity(ctx, base64.b64decode(session["source_secret"]))
    try:
        attachment = attachments.attachment_for_source(
            db.session, source_id=session["source_id"], attachment_id=attachment_id
        )
        download = attachments.open_download(db.session, ctx, attachment, identity)
    except NotFound:
        abort(404)
    except AttachmentUnreadable:
        abort(403)
    return _send(download)


@bp.route("/adviser/attachments/<int:attachment_id>")
@allow(Access.ADVISER)
def adviser_download(attachment_id: int) -> ResponseReturnValue:
    """Send a file of an observation of the adviser's missions; the download is audited."""
    staff = current_staff()
    try:
        attachment = attachments.attachment_for_adviser(
            db.session, staff=staff, attachment_id=attachment_id
        )
        download = attachments.open_download(
            db.session, current_context(), attachment, current_identity(), staff=staff
        )
    except NotFound:
        abort(404)
    except AttachmentUnreadable:
        abort(403)
    return _send(download)
