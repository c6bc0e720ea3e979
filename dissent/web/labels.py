"""How every value a page shows reads in the reader's language: one label per value.

Each interface shows the same states, categories and answers; they are named here
once, so the adviser's page, the source's inbox and the report cannot drift apart.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..models import (
    Category,
    Consent,
    EscalationState,
    ProposalStatus,
    RecordDecision,
    ResponseKind,
    Role,
    Severity,
    State,
)
from ..services.identifiers import FlagKind
from ..services.official_record import Outcome
from ..services.submission import Contradiction, WhenPeriod
from ..services.verification import SignatureProblem

CATEGORY_LABELS = {
    Category.REPORTING_ACCURACY: _l("Reporting accuracy and pressure to misreport"),
    Category.SAFETY_SECURITY: _l("Safety and security"),
    Category.CONDUCT_INTEGRITY: _l("Conduct and integrity"),
    Category.LOCAL_POPULATION: _l("Treatment of the local population"),
    Category.RESOURCES_FEASIBILITY: _l("Resources and feasibility"),
    Category.GENDER_INCLUSION: _l("Gender and inclusion"),
    Category.OTHER: _l("Other"),
}
WHEN_LABELS = {
    WhenPeriod.THIS_WEEK: _l("This week"),
    WhenPeriod.LAST_WEEK: _l("Last week"),
    WhenPeriod.THIS_MONTH: _l("Earlier this month"),
    WhenPeriod.LAST_MONTH: _l("Last month"),
    WhenPeriod.LAST_3_MONTHS: _l("In the last three months"),
    WhenPeriod.EARLIER: _l("Longer ago"),
    WhenPeriod.NOT_SAID: _l("I would rather not say"),
}
CONTRADICTION_LABELS = {
    Contradiction.YES: _l("Yes"),
    Contradiction.NO: _l("No"),
    Contradiction.UNSURE: _l("I am not sure"),
}
CONSENT_LABELS = {
    Consent.ASK_FIRST: _l("Ask me first: show me the proposed summary to approve"),
    Consent.SUMMARY_ALLOWED: _l(
        "The adviser may pass on a summary with everything that could identify me removed"
    ),
    Consent.NEVER: _l("Never: I only want to talk with an adviser"),
}
STATE_LABELS = {
    State.RECEIVED: _l("Received"),
    State.ACKNOWLEDGED: _l("Acknowledged"),
    State.IN_REVIEW: _l("In review"),
    State.ESCALATED: _l("Escalated"),
    State.FEEDBACK_GIVEN: _l("Feedback given"),
    State.CLOSED: _l("Closed"),
    State.ADVICE_ONLY: _l("Advice only (no case)"),
}
SEVERITY_LABELS = {
    "": _l("Not set"),
    Severity.LOW: _l("Low"),
    Severity.MEDIUM: _l("Medium"),
    Severity.HIGH: _l("High"),
    Severity.CRITICAL: _l("Critical"),
}
PROPOSAL_STATUS_LABELS = {
    ProposalStatus.PENDING: _l("waiting for the source"),
    ProposalStatus.APPROVED: _l("approved by the source"),
    ProposalStatus.DECLINED: _l("declined by the source"),
    ProposalStatus.WITHDRAWN: _l("withdrawn"),
    ProposalStatus.SENT: _l("approved and escalated"),
}
ESCALATION_STATE_LABELS = {
    EscalationState.SENT: _l("Sent, not yet acknowledged"),
    EscalationState.ACKNOWLEDGED: _l("Acknowledged"),
    EscalationState.RESPONDED: _l("Responded"),
}
RESPONSE_KIND_LABELS = {
    ResponseKind.ACTION_TAKEN: _l("Action taken"),
    ResponseKind.ACTION_PLANNED: _l("Action planned"),
    ResponseKind.DECLINED: _l("Declined"),
}
# What verification found wrong with a version, in words a reader can act on.
SIGNATURE_PROBLEM_LABELS = {
    SignatureProblem.TEXT_CHANGED: _l(
        "the text is not the text the adviser signed: it was changed after signing"
    ),
    SignatureProblem.FOREIGN_KEY: _l("the signature was made with a key that is not the author's"),
    SignatureProblem.BAD_SIGNATURE: _l("the signature does not match the text"),
    SignatureProblem.UNREADABLE: _l(
        "your key cannot open this version, so its signature cannot be checked"
    ),
    SignatureProblem.RECORD_CHANGED: _l(
        "the official report or figure it names is not the one the adviser signed: it was "
        "changed after signing"
    ),
}
# Leadership's decision about an official report or figure an escalation contradicts.
RECORD_DECISION_LABELS = {
    RecordDecision.CORRECTED: _l("Corrected"),
    RecordDecision.CORRECTION_PLANNED: _l("Correction planned"),
    RecordDecision.NOT_CORRECTED: _l("Not corrected"),
}
# Where the official record stands (the periodic report's section, the lists).
RECORD_OUTCOME_LABELS = {
    Outcome.AWAITING_DECISION: _l("Awaiting a decision"),
    Outcome.CORRECTED: _l("Corrected"),
    Outcome.CORRECTION_PLANNED: _l("Correction planned"),
    Outcome.CORRECTION_OVERDUE: _l("Correction overdue"),
    Outcome.NOT_CORRECTED: _l("Not corrected"),
}

# What an escalation's page names, for the readers who may respond (leadership, oversight).
ESCALATION_PAGE_LABELS = {
    "state": ESCALATION_STATE_LABELS,
    "kind": RESPONSE_KIND_LABELS,
    "signature": SIGNATURE_PROBLEM_LABELS,
    "record_decision": RECORD_DECISION_LABELS,
    "record": RECORD_OUTCOME_LABELS,
}
FLAG_LABELS = {
    FlagKind.NAME: _l("name on the mission list"),
    FlagKind.RANK: _l("rank"),
    FlagKind.UNIT: _l("unit"),
    FlagKind.DATE: _l("date"),
    FlagKind.PLACE: _l("place"),
    FlagKind.NUMBER: _l("number"),
}
ROLE_LABELS = {
    Role.ADVISER: _l("Adviser (vertrouwenspersoon)"),
    Role.LEADERSHIP: _l("Leadership"),
    Role.ADMIN: _l("Operator"),
    Role.OVERSIGHT: _l("Oversight (above leadership)"),
}
