"""What the source is shown for the first time: new since their last visit.

How far a source has read is two counters on the observation, the highest message and
file positions their inbox has shown them (migration 0011), never a time: a visit must
leave no date behind (invariant 2). Staff never see them (decision 32).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from ..models import Attachment, Observation, Sender
from .attachments import AttachmentView
from .conversation import ObservationView


@dataclass(frozen=True)
class News:
    """What one observation's part of the inbox shows the source for the first time,
    and how far that part reaches."""

    # Positions of the adviser's messages, and ids of the adviser's files, beyond what
    # the source was shown before. What the source wrote themself is never news.
    messages: tuple[int, ...]
    files: tuple[int, ...]
    # The highest message and file positions on the page: what the counters move to.
    shown_message: int
    shown_attachment: int
    # Whether the adviser has written or sent anything at all (before there is, "nothing
    # new since your last visit" would be news of nothing).
    from_adviser: bool

    @property
    def any(self) -> bool:
        """Return whether anything in this observation is new to the source."""
        return bool(self.messages or self.files)


def news_of(session: Session, view: ObservationView, files: Sequence[AttachmentView]) -> News:
    """Return what of ``view``'s thread and ``files``, as loaded for the page, is new to
    the source since the counters were last moved."""
    observation = view.observation
    positions: dict[int, int] = {}
    if files:
        # The positions of exactly the files on the page: one that arrived after the
        # list was read is not shown, so must not count as seen.
        positions = dict(
            session.execute(
                select(Attachment.id, Attachment.position).where(
                    Attachment.observation_id == observation.id,
                    Attachment.id.in_([f.id for f in files]),
                )
            ).all()
        )
    seen_message, seen_attachment = (
        observation.source_seen_message,
        observation.source_seen_attachment,
    )
    adviser_messages = [m for m in view.messages if m.sender is Sender.ADVISER]
    adviser_files = [f for f in files if f.sender is Sender.ADVISER and f.id in positions]
    return News(
        messages=tuple(m.position for m in adviser_messages if m.position > seen_message),
        files=tuple(f.id for f in adviser_files if positions[f.id] > seen_attachment),
        shown_message=max((m.position for m in view.messages), default=0),
        shown_attachment=max(positions.values(), default=0),
        from_adviser=bool(adviser_messages or adviser_files),
    )


def mark_shown(
    session: Session, *, source_id: int, shown: Iterable[tuple[Observation, News]]
) -> None:
    """Move the source's counters up to what their page showed, in the caller's
    transaction.

    Never beyond what was shown, and never back: another tab, opened earlier and
    finishing later, may have shown less. ``x = max(x, shown)`` is written as a CASE
    (SQLite and PostgreSQL alike), and on PostgreSQL a second writer waiting for the row
    re-reads it before setting, so neither of two visits undoes the other. Nothing is
    written when nothing moves: most visits change nothing, and take no lock.
    """
    for observation, news in shown:
        if (
            news.shown_message <= observation.source_seen_message
            and news.shown_attachment <= observation.source_seen_attachment
        ):
            continue
        message, attachment = Observation.source_seen_message, Observation.source_seen_attachment
        session.execute(
            update(Observation)
            .where(
                Observation.id == observation.id,
                Observation.source_id == source_id,
                or_(message < news.shown_message, attachment < news.shown_attachment),
            )
            .values(
                source_seen_message=case(
                    (message < news.shown_message, news.shown_message), else_=message
                ),
                source_seen_attachment=case(
                    (attachment < news.shown_attachment, news.shown_attachment), else_=attachment
                ),
            )
            .execution_options(synchronize_session=False)
        )
