"""The source interface: submit, codename, login, inbox, quick exit."""

from __future__ import annotations

import base64
import secrets

from flask import Blueprint, make_response, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..attachments.blocks import attachments_block
from ..crypto.codename import CODENAME_WORDS, InvalidCodename, generate_codename
from ..extensions import db
from ..forms import choices_from
from ..models import Category, Consent
from ..security.policy import Access, allow
from ..services import conversation, escalation, submission
from ..services.context import current_context
from ..services.errors import (
    CodenameNotFound,
    InvalidState,
    MissionUnavailable,
    NotFound,
    ObservationClosed,
    RateLimited,
    SubmissionReplayed,
)
from ..services.sources import authenticate_source, source_identity
from .forms import (
    CATEGORY_LABELS,
    CONSENT_LABELS,
    CONTRADICTION_LABELS,
    WHEN_LABELS,
    CodenameSavedForm,
    LeaveForm,
    LoginForm,
    ProposalDecisionForm,
    ReplyForm,
    SubmitForm,
)

bp = Blueprint("source", __name__)

# A session remembers the codenames of its last few open forms, so a double-clicked
# or replayed submit can show the same codename again instead of losing it.
MAX_PENDING_FORMS = 5


def _start_form() -> ResponseReturnValue:
    """Prepare a one-time token and the codename the submission will get."""
    pending: dict[str, str] = dict(session.get("pending_forms", {}))
    token = secrets.token_urlsafe(24)
    pending[token] = generate_codename()
    while len(pending) > MAX_PENDING_FORMS:
        pending.pop(next(iter(pending)))
    session["pending_forms"] = pending
    return token


def _log_in_source(source_id: int, secret: bytes) -> None:
    session["source_id"] = source_id
    session["source_secret"] = base64.b64encode(secret).decode()


def _render_submit(form: SubmitForm, *, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "source/submit.html",
        form=form,
        limits={
            "what": submission.WHAT_MAX,
            "where": submission.WHERE_MAX,
            "official_report": submission.OFFICIAL_REPORT_MAX,
        },
    ), status


@bp.route("/submit", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def submit() -> ResponseReturnValue:
    """Show the observation form, or file an observation."""
    missions = submission.open_missions(db.session)
    form = SubmitForm()
    form.mission.choices = choices_from((m.id, m.name) for m in missions)
    if len(missions) == 1 and not form.mission.data:
        form.mission.data = missions[0].id
    if not form.is_submitted():
        form.submit_token.data = _start_form()
        return _render_submit(form)
    token = form.submit_token.data or ""
    codename = session.get("pending_forms", {}).get(token)
    if codename is None and token and submission.was_submitted(db.session, token):
        # A replay whose session was already replaced by the first submit's.
        return render_template("source/already_received.html"), 409
    if not form.validate() or codename is None:
        if codename is None and not form.csrf_token.errors:
            form.csrf_token.errors = [_("This form has expired.")]
        form.submit_token.data = _start_form()
        return _render_submit(form, status=400)
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
    ctx = current_context()
    try:
        result = submission.submit_observation(
            db.session, ctx, draft=draft, submit_token=token, codename=codename
        )
    except SubmissionReplayed:
        result = submission.replayed_submission(db.session, ctx, codename=codename)
    except MissionUnavailable:
        form.mission.errors = [_("This mission cannot take observations. Choose another.")]
        form.submit_token.data = _start_form()
        return _render_submit(form, status=400)
    # A new session id from here on: a cookie copied before the submit (on a shared
    # computer, say) must not open this source's inbox. The old id keeps the open
    # forms for a moment, so the second request of a double click, which the browser
    # sends with the old cookie, can still lead to the codename page.
    session.regenerate(keep_old=("pending_forms", "csrf_token"))  # type: ignore[attr-defined]
    _log_in_source(result.source_id, result.identity_secret)
    session["new_codename"] = codename
    return redirect(url_for("source.codename"), code=303)


@bp.route("/submit/codename", methods=["GET", "POST"])
@allow(Access.SOURCE)
def codename() -> ResponseReturnValue:
    """Show the new codename once, until the source confirms they wrote it down."""
    new_codename = session.get("new_codename")
    if not new_codename:
        return redirect(url_for("source.inbox"))
    form = CodenameSavedForm()
    if form.validate_on_submit():
        session.pop("new_codename", None)
        session.pop("pending_forms", None)
        return redirect(url_for("source.inbox"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("source/codename.html", codename=new_codename, form=form), status


def _codename_format_message(exc: InvalidCodename) -> str:
    if exc.position is not None:
        return str(
            _("Word %(n)d is not a codename word. Please check its spelling.", n=exc.position)
        )
    return str(
        _(
            "A codename has %(words)d words separated by spaces; this has %(n)d.",
            words=CODENAME_WORDS,
            n=exc.word_count or 0,
        )
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
            form.codename.errors = [_codename_format_message(exc)]
        except CodenameNotFound:
            form.codename.errors = [
                _("No observation was found for this codename. Check each word.")
            ]
        except RateLimited:
            form.codename.errors = [_("Too many attempts right now. Wait a minute and try again.")]
        else:
            session.clear()
            session.regenerate()  # type: ignore[attr-defined]
            _log_in_source(source.source_id, source.identity_secret)
            return redirect(url_for("source.inbox"), code=303)
    # The codename is never sent back into the page.
    form.codename.data = ""
    return render_template("source/login.html", form=form), 400


def _inbox_page(
    reply_form: ReplyForm | None = None,
    *,
    reply_ref: str | None = None,
    decision_form: ProposalDecisionForm | None = None,
    decision_id: int | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    ctx = current_context()
    identity = source_identity(ctx, base64.b64decode(session["source_secret"]))
    views = []
    blocks = {}
    for found in conversation.source_observations(db.session, session["source_id"]):
        blocks[found.ref] = attachments_block(found, identity, for_source=True)
        views.append(
            {
                "view": conversation.view_observation(found, identity, for_staff=False),
                "proposals": escalation.proposals_for(db.session, found, identity),
                "escalations": [
                    (e, escalation.open_versions(e, identity))
                    for e in escalation.escalations_of(db.session, found)
                ],
            }
        )
    return render_template(
        "source/inbox.html",
        items=views,
        reply_form=reply_form or ReplyForm(),
        reply_ref=reply_ref,
        decision_form=decision_form or ProposalDecisionForm(),
        decision_id=decision_id,
        attachments_blocks=blocks,
        labels={
            "category": CATEGORY_LABELS,
            "when": WHEN_LABELS,
            "contradicts": CONTRADICTION_LABELS,
            "consent": CONSENT_LABELS,
        },
    ), status


@bp.route("/inbox")
@allow(Access.SOURCE)
def inbox() -> ResponseReturnValue:
    """Show the source's observations, their state and the conversation."""
    return _inbox_page()


def _post_message(ref: str, text: str) -> None:
    with db.transaction() as connection:
        conversation.post_source_message(
            connection, current_context(), source_id=session["source_id"], ref=ref, text=text
        )


@bp.route("/inbox/<ref>/reply", methods=["POST"])
@allow(Access.SOURCE)
def reply(ref: str) -> ResponseReturnValue:
    """Add a message to one of the source's observations."""
    form = ReplyForm()
    if form.validate():
        try:
            _post_message(ref, form.text.data or "")
        except NotFound:
            return _inbox_page(status=404)
        except InvalidState:
            form.text.errors = [_("This observation is closed; it takes no more messages.")]
        else:
            return redirect(url_for("source.inbox", _anchor="thread-" + ref), code=303)
    return _inbox_page(form, reply_ref=ref, status=400)


@bp.route("/inbox/proposals/<int:proposal_id>", methods=["POST"])
@allow(Access.SOURCE)
def decide(proposal_id: int) -> ResponseReturnValue:
    """Approve or decline a proposed summary, with an optional comment to the adviser."""
    form = ProposalDecisionForm()
    if not form.validate() or form.decision.data not in ("approve", "decline"):
        return _inbox_page(decision_form=form, decision_id=proposal_id, status=400)
    try:
        proposal = escalation.source_decides(
            db.session,
            source_id=session["source_id"],
            proposal_id=proposal_id,
            approve=form.decision.data == "approve",
        )
    except NotFound:
        return _inbox_page(status=404)
    except ObservationClosed:
        form.decision.errors = [_("This observation is closed; it takes no more messages.")]
        return _inbox_page(decision_form=form, decision_id=proposal_id, status=409)
    except InvalidState:
        form.decision.errors = [_("This proposal was already answered or withdrawn.")]
        return _inbox_page(decision_form=form, decision_id=proposal_id, status=409)
    ref = proposal.observation.ref
    if (form.comment.data or "").strip():
        try:
            _post_message(ref, form.comment.data or "")
        except ObservationClosed:
            # Closed in the moment between the decision and the comment: the decision
            # stands; the comment cannot be delivered, and the page says the
            # observation is closed instead of failing.
            form.comment.errors = [_("This observation is closed; it takes no more messages.")]
            return _inbox_page(decision_form=form, decision_id=proposal_id, status=409)
    return redirect(url_for("source.inbox", _anchor="thread-" + ref), code=303)


@bp.route("/leave", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def leave() -> ResponseReturnValue:
    """End the session at once and show a page that says nothing about this site."""
    LeaveForm()  # a POST without a valid token still leaves: leaving is never refused
    session.end()  # type: ignore[attr-defined]
    response = make_response(render_template("source/leave.html"))
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response
