"""The source interface: submit, codename, login, inbox, quick exit."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import date

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ..config import Settings
from ..crypto.codename import InvalidCodename, generate_codename
from ..extensions import current_context, db
from ..models import Category, Consent, Observation, ProposalStatus, today
from ..security.identity import (
    current_source_id,
    current_source_identity,
    log_in_source,
)
from ..security.policy import Access, allow
from ..security.sessions import Twin, forget_twin, share_with_twin
from ..services import (
    attachments,
    confirmation,
    consent,
    conversation,
    first_files,
    news,
    submission,
    triage,
    verification,
)
from ..services.attachments import (
    MAX_ATTACHMENTS_PER_OBSERVATION,
    AttachmentError,
    AttachmentTooLarge,
)
from ..services.budget import BudgetReached
from ..services.deadlines import ack_due, ack_overdue, feedback_due, feedback_overdue
from ..services.errors import (
    CodenameNotFound,
    InvalidInput,
    InvalidState,
    KdfBusy,
    MissionUnavailable,
    NotFound,
    RateLimited,
    SubmissionReplayed,
)
from ..services.sources import authenticate_source
from ..web.errors import kept_on_outage
from ..web.filenames import neutral_filename
from ..web.forms import choices_from
from ..web.labels import CATEGORY_LABELS, CONSENT_LABELS, CONTRADICTION_LABELS, WHEN_LABELS
from ..web.messages import (
    budget_refusal,
    codename_format_message,
    first_files_message,
    message_for,
    show_on,
)
from ..web.receive import receive_upload, refusal_status, set_sink
from .forms import (
    CodenameSavedForm,
    LeaveForm,
    LoginForm,
    ProposalDecisionForm,
    ReplyForm,
    SubmitForm,
)

bp = Blueprint("source", __name__)

_NEW_CODENAME = "new_codename"
# The form that made the new codename: its token and its twin record (see submit).
_FILED_FORM = "filed_form"
_FORM_PURPOSE = "submit-form"


def _start_form() -> str:
    """Return the one-time token of a new form: a random part and a keyed hash of it
    made with this browser's session key. Nothing is stored until the form is sent
    (issue 15, finding 9), and no other browser can send it."""
    nonce = secrets.token_urlsafe(12)  # with the hash, within the field's 64 characters
    return f"{nonce}.{session.token(_FORM_PURPOSE, nonce)}"  # type: ignore[attr-defined]


def _own_form(token: str) -> bool:
    """Return whether ``token`` is of a form this browser's session was shown."""
    nonce, _, mac = token.partition(".")
    return bool(nonce) and session.check_token(_FORM_PURPOSE, mac, nonce)  # type: ignore[attr-defined]


def _filed_here(token: str) -> bool:
    """Return whether this session's source was made by the form ``token`` and has not
    yet confirmed their codename (the browser sends the form again once its first
    answer, with the new session, has reached it)."""
    filed = session.get(_FILED_FORM)
    return (
        bool(token)
        and isinstance(filed, dict)
        and bool(session.get(_NEW_CODENAME))
        and filed.get("token") == submission.token_hash(token).hex()
    )


def _render_submit(
    form: SubmitForm,
    *,
    status: int = 200,
    notice: str | None = None,
    files: first_files.FirstFiles | None = None,
    file_errors: list[str] | None = None,
) -> ResponseReturnValue:
    if file_errors:
        form.files.errors = list(file_errors)
    return render_template(
        "source/submit.html",
        form=form,
        notice=notice,
        limits={
            "what": submission.WHAT_MAX,
            "where": submission.WHERE_MAX,
            "official_report": submission.OFFICIAL_REPORT_MAX,
        },
        file_limits={
            "count": first_files.MAX_FIRST_FILES,
            "total": first_files.MAX_FIRST_FILES_BYTES,
        },
        # A browser never sends a chosen file again: say so where the files were.
        files_dropped=files is not None and files.chosen,
    ), status


def _file_refusal(exc: AttachmentError) -> tuple[list[str], int]:
    """Return the message next to the files field, and the page's status."""
    return [first_files_message(exc)], refusal_status(exc)


def _form_started() -> bool:
    """Return whether this browser holds a session cookie: a form's tokens are made with
    its key, so without one no form it sends was shown to it (a closed browser, cleared
    cookies, or a page from elsewhere)."""
    return bool(session.in_browser)  # type: ignore[attr-defined]


def _body_bytes() -> int | None:
    """Return the declared length of a body that may hold files (None if not declared);
    0 for a body that cannot (not multipart)."""
    return request.content_length if request.mimetype == "multipart/form-data" else 0


@bp.route("/submit", methods=["GET", "POST"])
@allow(Access.PUBLIC)
@kept_on_outage(SubmitForm, "what", "where", "official_report")
def submit() -> ResponseReturnValue:
    """Show the observation form, or file an observation (with any files) and show its
    codename."""
    if request.method != "POST":
        return _submit(None)
    settings = current_context().settings
    files = first_files.FirstFiles(settings)
    limit, max_parts = (
        first_files.READ_LIMIT,
        first_files.FORM_FIELDS + MAX_ATTACHMENTS_PER_OBSERVATION,
    )
    # Files go into their sinks as the body is read (never to disk in clear), whoever
    # reads it: also an error page that shows the typed text back.
    set_sink(files, limit=limit, max_parts=max_parts)
    try:
        # Before the body is read, what costs nothing: a form from a browser without a
        # session cannot be its own ("This form has expired"), and a used-up budget
        # refuses any filing. The body is still read, for the typed text to come back,
        # but its files are dropped unread: nothing of them is received or encrypted.
        refused = _refusal_before_reading(settings)
        if refused is not None or not _form_started():
            files.drop_files()
        try:
            receive_upload(
                files,
                limit=limit,
                max_parts=max_parts,
                refused_limit=first_files.MAX_FIRST_FILES_BYTES,
            )
        except AttachmentTooLarge as exc:
            return _refused_unread(exc)
        files.finish()
        if refused is not None:
            return _refused_by_budget(refused, files)
        return _submit(files)
    finally:
        # Nothing more is kept, even by an error page that reads the body after this.
        files.drop_files()
        files.discard()


def _refusal_before_reading(settings: Settings) -> BudgetReached | None:
    """Return why this hour's budgets refuse the form (for a browser with a session),
    read before its body is."""
    if not _form_started():
        return None  # its answer is "This form has expired", whatever the budgets say
    try:
        first_files.check_budgets(db.session.connection(), settings, body_bytes=_body_bytes())
    except BudgetReached as exc:
        return exc
    finally:
        # Read only, and ended here: no transaction may stay open while the body
        # arrives, which over Tor can take minutes (decision 20).
        db.session.rollback()
    return None


def _refused_unread(exc: AttachmentTooLarge) -> ResponseReturnValue:
    """Answer a body too large to be read: the form, empty, saying why (413)."""
    form = _submit_form()
    form.submit_token.data = _start_form()
    errors, status = _file_refusal(exc)
    errors.append(
        _(
            "What you typed could not be read back either: your browser's Back "
            "button may still show it."
        )
    )
    return _render_submit(form, status=status, file_errors=errors)


def _refused_by_budget(exc: BudgetReached, files: first_files.FirstFiles) -> ResponseReturnValue:
    """Answer a form refused by a used-up budget before its files were read: the form
    with what was typed, 503 with when to try again; or, for the twin of a form filed a
    moment ago (a double click), what that one filed."""
    form = _submit_form()
    token = form.submit_token.data or ""
    if token and (_filed_here(token) or submission.was_submitted(db.session, token)):
        return _submit(None)
    form.submit_token.data = _start_form()
    return budget_refusal(_render_submit(form, notice=message_for(exc), files=files), exc)


def _submit_form() -> SubmitForm:
    """Return the observation form, its missions filled in."""
    missions = submission.open_missions(db.session)
    form = SubmitForm()
    form.mission.choices = choices_from((m.id, m.name) for m in missions)
    if len(missions) == 1 and not form.mission.data:
        form.mission.data = missions[0].id
    return form


def _submit(files: first_files.FirstFiles | None) -> ResponseReturnValue:
    """Show the form, or file what it sent with the received ``files``."""
    form = _submit_form()
    if not form.is_submitted():
        form.submit_token.data = _start_form()
        return _render_submit(form)
    token = form.submit_token.data or ""
    if _filed_here(token):
        return _codename_page(
            session[_NEW_CODENAME],
            CodenameSavedForm(formdata=None),
            due=_deadlines_of(current_source_id()),
            files=_files_of(current_source_id()),
        )
    own = _own_form(token)
    file_problem = files.problem if files is not None else None
    if not form.validate() or not own or file_problem is not None:
        if token and submission.was_submitted(db.session, token):
            # A replay from another browser, or after the codename was confirmed.
            return render_template("source/already_received.html"), 409
        if not own and not form.csrf_token.errors:
            form.csrf_token.errors = [_("This form has expired.")]
        form.submit_token.data = _start_form()
        file_errors, status = _file_refusal(file_problem) if file_problem else ([], 400)
        return _render_submit(form, status=status, files=files, file_errors=file_errors)
    draft = submission.ObservationDraft(
        mission_id=form.mission.data,
        category=Category(form.category.data),
        what=form.what.data or "",
        when=form.when.data or submission.WhenPeriod.NOT_SAID,
        where=form.where.data or "",
        contradicts=form.contradicts.data or submission.Contradiction.UNSURE,
        official_report=form.official_report.data or "",
        consent=Consent(form.consent.data),
    )
    # The codename is made now and kept for this request's twin: the second request of
    # a double click, which the browser sends with the same cookie and the same answers
    # before the first answer reaches it, must show the same codename. A copy of the
    # cookie and of the form's tokens, without what the source typed, gets none of it
    # (issue 15, finding 18).
    # In the words of the page's language: a Dutch page gives a Dutch codename.
    new_codename = generate_codename(language=str(get_locale()))
    twin = share_with_twin(submission.draft_fingerprint(draft, token), new_codename)
    if twin is None:
        form.csrf_token.errors = [_("This form has expired.")]
        form.submit_token.data = _start_form()
        return _render_submit(form, status=400)
    codename = twin.value
    ctx = current_context()
    try:
        # Committed before the codename is shown: a source who sees one has a record.
        with db.unit():
            result = submission.submit_observation(
                db.session,
                ctx,
                draft=draft,
                submit_token=token,
                codename=codename,
                files=files,
                # A neutral name unless the source asked to keep the file's own.
                naming=None if form.keep_names.data else neutral_filename,
            )
            # Read before the commit: after it, nothing may stand between the record
            # and its codename page.
            due = _deadlines_of(result.source_id)
        filed: tuple[attachments.AttachmentView, ...] | None = result.files
    except SubmissionReplayed:
        try:
            result = submission.replayed_submission(db.session, ctx, codename=codename)
        except NotFound:
            # Filed already, with other answers: not this request's twin.
            return render_template("source/already_received.html"), 409
        due = _deadlines_of(result.source_id)
        filed = None  # the twin stored them: read once logged in
    except MissionUnavailable as exc:
        _nothing_filed(twin)
        show_on(form, exc, field="mission")
        form.submit_token.data = _start_form()
        return _render_submit(form, status=400, files=files)
    except BudgetReached as exc:
        # Rolled back whole: the form comes back with what was typed (never stored).
        _nothing_filed(twin)
        form.submit_token.data = _start_form()
        return budget_refusal(_render_submit(form, notice=message_for(exc), files=files), exc)
    except AttachmentError as exc:
        # Rolled back whole, the observation with its files.
        _nothing_filed(twin)
        form.submit_token.data = _start_form()
        file_errors, status = _file_refusal(exc)
        return _render_submit(form, status=status, files=files, file_errors=file_errors)
    # A new session id from here on: a cookie copied before the submit (on a shared
    # computer, say) must not open this source's inbox.
    session.regenerate()  # type: ignore[attr-defined]
    log_in_source(result.source_id, result.identity_secret)
    session[_NEW_CODENAME] = codename
    session[_FILED_FORM] = {
        "token": submission.token_hash(token).hex(),
        "twin": base64.urlsafe_b64encode(twin.sid).decode("ascii"),
    }
    # The codename is this response, not a page the browser fetches next with the
    # session: once the record is committed, nothing but this answer must reach the
    # source for them to have their codename, and a session store failing now costs
    # only the login (they log in with the codename), not the codename (invariant 4).
    session.allow_unsaved()  # type: ignore[attr-defined]
    return _codename_page(
        codename,
        CodenameSavedForm(formdata=None),
        due=due,
        files=filed if filed is not None else _files_of(result.source_id),
    )


def _nothing_filed(twin: Twin) -> None:
    """Drop the record kept for this request's twin: a refused form leaves nothing
    stored (issue 15, finding 9)."""
    if twin.created:
        forget_twin(twin.sid)


def _deadlines_of(source_id: int) -> tuple[date, date] | None:
    """Return by when the source's newest observation is acknowledged and answered."""
    observations = conversation.source_observations(db.session, source_id)
    if not observations:
        return None
    newest = observations[0]
    return ack_due(newest, newest.mission), feedback_due(newest, newest.mission)


def _files_of(source_id: int) -> list[attachments.AttachmentView]:
    """Return the files of the source's newest observation, for the codename page."""
    observations = conversation.source_observations(db.session, source_id)
    if not observations:
        return []
    return attachments.list_attachments(db.session, observations[0], current_source_identity())


def _codename_page(
    codename: str,
    form: CodenameSavedForm,
    *,
    due: tuple[date, date] | None,
    files: Sequence[attachments.AttachmentView] = (),
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "source/codename.html", codename=codename, form=form, due=due, files=files
    ), status


@bp.route("/submit/codename", methods=["GET", "POST"])
@allow(Access.SOURCE)
def codename() -> ResponseReturnValue:
    """Show the new codename again, until the source confirms they wrote it down."""
    new_codename = session.get(_NEW_CODENAME)
    if not new_codename:
        return redirect(url_for("source.inbox"))
    form = CodenameSavedForm()
    if form.validate_on_submit():
        session.pop(_NEW_CODENAME, None)
        filed = session.pop(_FILED_FORM, None)
        if isinstance(filed, dict) and isinstance(filed.get("twin"), str):
            # The codename reached its browser: no twin needs it any more.
            forget_twin(base64.urlsafe_b64decode(filed["twin"]))
        return redirect(url_for("source.inbox"), code=303)
    return _codename_page(
        new_codename,
        form,
        due=_deadlines_of(current_source_id()),
        files=_files_of(current_source_id()),
        status=400 if form.is_submitted() else 200,
    )


@bp.route("/login", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def login() -> ResponseReturnValue:
    """Return with a codename."""
    form = LoginForm()
    if not form.is_submitted():
        return render_template("source/login.html", form=form), 200
    if form.validate():
        try:
            source = authenticate_source(
                db.session, current_context(), codename=form.codename.data or ""
            )
        except InvalidCodename as exc:
            form.codename.errors = [codename_format_message(exc, typed=form.codename.data or "")]
        except (CodenameNotFound, RateLimited) as exc:
            show_on(form, exc, field="codename")
        except KdfBusy as exc:
            # Turned away before the derivation rather than queued behind a flood.
            show_on(form, exc, field="codename")
            busy = make_response(render_template("source/login.html", form=form), 503)
            busy.headers["Retry-After"] = str(exc.retry_after)
            return busy
        else:
            session.clear()
            session.regenerate()  # type: ignore[attr-defined]
            log_in_source(source.source_id, source.identity_secret)
            return redirect(url_for("source.inbox"), code=303)
    # What was typed comes back, so one wrong word is fixed, not seven retyped
    # (invariant 7). It goes only to the browser that sent it, on a page no cache keeps,
    # and never into a log.
    return render_template("source/login.html", form=form), 400


def _inbox_page(
    reply_form: ReplyForm | None = None,
    *,
    reply_ref: str | None = None,
    decision_form: ProposalDecisionForm | None = None,
    decision_id: int | None = None,
    decided: int | None = None,
    status: int = 200,
    visit: bool = False,
) -> ResponseReturnValue:
    """Render the inbox; on a ``visit`` (a GET that shows the thread), record that the
    source has now been shown what it shows."""
    identity = current_source_identity()
    items = []
    shown: list[tuple[Observation, news.News]] = []
    # What waits for the source's answer, listed first with a link to each.
    waiting: list[tuple[str, int]] = []
    for found in conversation.source_observations(db.session, current_source_id()):
        proposals = consent.proposals_for(db.session, found, identity)
        waiting.extend(
            (found.ref, p.proposal.id)
            for p in proposals
            if p.proposal.status is ProposalStatus.PENDING
        )
        view = conversation.view_observation(found, identity, for_staff=False)
        files = attachments.list_attachments(db.session, found, identity)
        shown.append((found, news.news_of(db.session, view, files)))
        items.append(
            {
                "view": view,
                "files": files,
                "news": shown[-1][1],
                "proposals": proposals,
                "ack_due": ack_due(found, found.mission),
                "feedback_due": feedback_due(found, found.mission),
                # Told in the inbox only, never by mail: what is late, and when it moved.
                "ack_late": ack_overdue(found, found.mission, on=today()),
                "feedback_late": feedback_overdue(found, found.mission, on=today()),
                "moved_on": triage.moved_on(db.session, found),
                "readers": confirmation.confirmed_advisers(db.session, found.mission_id),
                "escalations": [
                    (e, verification.open_versions(e, identity))
                    for e in verification.escalations_of(db.session, found)
                ],
            }
        )
    page = render_template(
        "source/inbox.html",
        items=items,
        waiting=waiting,
        decided=decided,
        # After a file was removed: said in that observation's files (a made-up
        # reference matches none of the source's own).
        removed=request.args.get("removed"),
        reply_form=reply_form or ReplyForm(),
        reply_ref=reply_ref,
        decision_form=decision_form or ProposalDecisionForm(),
        decision_id=decision_id,
        labels={
            "category": CATEGORY_LABELS,
            "when": WHEN_LABELS,
            "contradicts": CONTRADICTION_LABELS,
            "consent": CONSENT_LABELS,
        },
    )
    if visit:
        # Only once the page is made, and in this request's one transaction: what the
        # source was shown is no longer new, and nothing they were not shown is marked.
        with db.unit():
            news.mark_shown(db.session, source_id=current_source_id(), shown=shown)
    return page, status


@bp.route("/inbox")
@allow(Access.SOURCE)
def inbox() -> ResponseReturnValue:
    """Show the source's observations, their state and the conversation; after an answer
    to a proposal (``decided``), say that it was kept."""
    # A HEAD is not a visit: no one was shown anything.
    return _inbox_page(decided=request.args.get("decided", type=int), visit=request.method == "GET")


def _post_message(ref: str, text: str) -> None:
    # Plain statements on the connection of the request's one transaction (the most
    # frequent write a source makes; see conversation.post_source_message).
    conversation.post_source_message(
        db.session.connection(),
        current_context(),
        source_id=current_source_id(),
        ref=ref,
        text=text,
    )


@bp.route("/inbox/<ref>/reply", methods=["POST"])
@allow(Access.SOURCE)
@kept_on_outage(ReplyForm, "text")
def reply(ref: str) -> ResponseReturnValue:
    """Add a message to one of the source's observations."""
    form = ReplyForm()
    if form.validate():
        try:
            with db.unit():
                _post_message(ref, form.text.data or "")
        except NotFound:
            return _inbox_page(status=404)
        except (InvalidState, InvalidInput) as exc:
            show_on(form, exc, field="text")
        except BudgetReached as exc:
            show_on(form, exc, field="text")
            return budget_refusal(_inbox_page(form, reply_ref=ref), exc)
        else:
            return redirect(url_for("source.inbox", _anchor="thread-" + ref), code=303)
    return _inbox_page(form, reply_ref=ref, status=400)


@bp.route("/inbox/proposals/<int:proposal_id>", methods=["POST"])
@allow(Access.SOURCE)
@kept_on_outage(ProposalDecisionForm, "comment")
def decide(proposal_id: int) -> ResponseReturnValue:
    """Approve or decline a proposed summary, with an optional comment to the adviser.

    The decision and the comment are one transaction: if the comment cannot be
    delivered (the observation was closed a moment ago), the decision is not kept
    either, and the page says why.
    """
    form = ProposalDecisionForm()
    if not form.validate() or form.decision.data not in ("approve", "decline"):
        return _inbox_page(decision_form=form, decision_id=proposal_id, status=400)
    try:
        with db.unit():
            proposal = consent.source_decides(
                db.session,
                source_id=current_source_id(),
                proposal_id=proposal_id,
                approve=form.decision.data == "approve",
            )
            ref = proposal.observation.ref
            if (form.comment.data or "").strip():
                _post_message(ref, form.comment.data or "")
    except NotFound:
        return _inbox_page(status=404)
    except (InvalidState, InvalidInput) as exc:
        show_on(form, exc, field="decision")
        return _inbox_page(decision_form=form, decision_id=proposal_id, status=409)
    except BudgetReached as exc:
        # The comment did not fit this hour's budget, so the decision was not kept either.
        show_on(form, exc, field="decision")
        return budget_refusal(_inbox_page(decision_form=form, decision_id=proposal_id), exc)
    # To the answer as it now stands in the thread, with a word that it was kept.
    return redirect(
        url_for("source.inbox", decided=proposal_id, _anchor=f"proposal-{proposal_id}"),
        code=303,
    )


@bp.route("/logout", methods=["POST"])
@allow(Access.PUBLIC)
def logout() -> ResponseReturnValue:
    """Log the source out and say so on the login page (Quick exit is the way out that
    shows nothing of this site)."""
    session.end()  # type: ignore[attr-defined]
    session.allow_unsaved()  # type: ignore[attr-defined]
    return redirect(url_for("source.login", logged_out=1), code=303)


@bp.route("/leave", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def leave() -> ResponseReturnValue:
    """End the session at once and show a page that says nothing about this site."""
    LeaveForm()  # a POST without a valid token still leaves: leaving is never refused
    session.end()  # type: ignore[attr-defined]
    session.allow_unsaved()  # type: ignore[attr-defined]  # not even by a store that is down
    response = make_response(render_template("source/leave.html"))
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
