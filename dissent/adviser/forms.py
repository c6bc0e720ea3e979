"""Forms of the adviser interface."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import normalize_newlines
from ..services.conversation import MESSAGE_MAX


class ReplyForm(FlaskForm):
    """A message to the source."""

    text = TextAreaField(
        _l("Message to the source"),
        filters=[normalize_newlines],
        validators=[
            DataRequired(message=_l("Write a message first.")),
            Length(max=MESSAGE_MAX, message=_l("At most %(max)d characters.", max=MESSAGE_MAX)),
        ],
    )


class AcknowledgeForm(FlaskForm):
    """Send the standard acknowledgement of receipt."""
