"""Upload and download routes for the source's and the adviser's attachments.

The routes live under each role's own URL space (``/inbox/…`` for sources,
``/adviser/…`` for advisers), so each keeps its own session cookie and access rule.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from ..extensions import current_context, db
from ..models import Observation, Sender, StaffUser
from ..models.observation import REF_LENGTH
from ..security.identity import (
    current_identity,
    current_source_id,
    current_source_identity,
    current_staff,
)
from ..security.policy import Access, allow
from ..services import attachments, file_removal, inbox
from ..services.attachments import (
    AttachmentError,
    AttachmentUnreadable,
    AttachmentView,
    Download,
)
from ..services.budget import BudgetReached
from ..services.errors import InvalidState, NotFound
from ..services.file_removal import FileNotRemovable, NotRemovable
from ..web.filenames import neutral_filename
from ..web.messages import budget_refusal, message_for
from ..web.receive import receive_upload, refusal_status
from .forms import RemoveFileForm, UploadForm

bp = Blueprint("attachments", __name__)


# --- uploading -------------------------------------------------------------------------


def _upload(
    observation: Observation, *, staff: StaffUser | None, done_url: str
) -> ResponseReturnValue:
    """Receive, store and redirect; or show the form again with what went wrong."""
    ctx = current_context()
    sender = Sender.ADVISER if staff is not None else Sender.SOURCE
    try:
        upload = attachments.start_upload(db.session, ctx, observation=observation, sender=sender)
    except (AttachmentError, InvalidState) as exc:
        # Refused before reading the body: nothing of the file is received at all.
        return _page(observation, done_url, staff=staff, errors=[message_for(exc)], status=400)
    except BudgetReached as exc:
        page = _page(observation, done_url, staff=staff, errors=[message_for(exc)], status=503)
        return budget_refusal(page, exc)
    try:
        receive_upload(upload.sink)
        form = UploadForm()
        if form.validate():
            if form.file.data.stream is not upload.sink:
                # The first file part was not the one named "file" (no browser sends
                # that): refuse rather than guess which part was meant.
                raise AttachmentError
            # A source's file gets a neutral name unless they keep its own; an
            # adviser's keeps its name.
            neutral = staff is None and not form.keep_name.data
            with db.unit():
                attachments.store_upload(
                    db.session,
                    ctx,
                    upload,
                    staff=staff,
                    naming=neutral_filename if neutral else None,
                )
            return redirect(done_url, code=303)
        errors, expired, status = list(form.file.errors), bool(form.csrf_token.errors), 400
    except BudgetReached as exc:
        # Nothing of the file is kept (its blob goes with the rolled-back record).
        page = _page(observation, done_url, staff=staff, errors=[message_for(exc)], status=503)
        return budget_refusal(page, exc)
    except AttachmentError as exc:
        errors, expired, status = [message_for(exc)], False, refusal_status(exc)
    finally:
        upload.discard()
    return _page(observation, done_url, staff=staff, errors=errors, expired=expired, status=status)


def _page(
    observation: Observation,
    done_url: str,
    *,
    staff: StaffUser | None,
    errors: list[str],
    expired: bool = False,
    status: int,
) -> ResponseReturnValue:
    return render_template(
        "attachments/upload.html",
        errors=errors,
        expired=expired,
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
            db.session, source_id=current_source_id(), ref=ref
        )
    except NotFound:
        abort(404)
    return _upload(
        observation,
        staff=None,
        done_url=url_for("source.inbox", _anchor="thread-" + observation.ref),
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
    )


# --- removing (the source's own files) ---------------------------------------------------


def _remove_page(
    form: RemoveFileForm,
    *,
    ref: str | None = None,
    file: AttachmentView | None = None,
    refused: NotRemovable | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "attachments/remove.html", form=form, ref=ref, file=file, not_removable=refused
    ), status


@bp.route("/inbox/attachments/<bigint:attachment_id>/remove", methods=["GET", "POST"])
@allow(Access.SOURCE)
def source_remove(attachment_id: int) -> ResponseReturnValue:
    """Ask the source to confirm removing a file of theirs, and remove it; or say why
    it can no longer be removed."""
    form = RemoveFileForm()
    source_id, identity = current_source_id(), current_source_identity()
    try:
        ref, file = file_removal.file_to_remove(
            db.session, source_id=source_id, attachment_id=attachment_id, identity=identity
        )
    except NotFound:
        abort(404)
    except FileNotRemovable as exc:
        # Opened meanwhile, or never theirs: a clear refusal, not an error page.
        return _remove_page(form, refused=exc.reason, status=409)
    if not form.is_submitted():
        return _remove_page(form, ref=ref, file=file)
    if not form.validate():
        return _remove_page(form, ref=ref, file=file, status=400)
    try:
        with db.unit():
            removed = file_removal.remove_source_file(
                db.session,
                current_context(),
                source_id=source_id,
                attachment_id=attachment_id,
                identity=identity,
            )
    except NotFound:
        abort(404)
    except FileNotRemovable as exc:
        return _remove_page(form, refused=exc.reason, status=409)
    return redirect(
        url_for("source.inbox", removed=removed.ref, _anchor="attachments-" + removed.ref),
        code=303,
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


@bp.route("/inbox/attachments/<bigint:attachment_id>")
@allow(Access.SOURCE)
def source_download(attachment_id: int) -> ResponseReturnValue:
    """Send a file of one of the source's observations, decrypted as it streams."""
    try:
        attachment = attachments.attachment_for_source(
            db.session, source_id=current_source_id(), attachment_id=attachment_id
        )
        download = attachments.open_download(
            db.session, current_context(), attachment, current_source_identity()
        )
    except NotFound:
        abort(404)
    except AttachmentUnreadable:
        abort(403)
    return _send(download)


@bp.route("/adviser/attachments/<bigint:attachment_id>")
@allow(Access.ADVISER)
def adviser_download(attachment_id: int) -> ResponseReturnValue:
    """Send a file of an observation of the adviser's missions; the download is audited
    (committed before the first byte is sent)."""
    staff = current_staff()
    try:
        with db.unit():
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
