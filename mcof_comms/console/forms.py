"""Console forms (Flask-WTF): every POST carries a CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from mcof_comms.i18n import UI_LOCALES
from mcof_comms.models import CaseStatus, FeedbackType, Urgency

FEEDBACK_TYPE_LABELS = {
    FeedbackType.QUESTION: _l("Question"),
    FeedbackType.REQUEST: _l("Request"),
    FeedbackType.COMPLAINT: _l("Complaint"),
    FeedbackType.RUMOUR: _l("Rumour"),
    FeedbackType.SUGGESTION: _l("Suggestion"),
    FeedbackType.APPRECIATION: _l("Appreciation"),
    FeedbackType.OTHER: _l("Other"),
}
URGENCY_LABELS = {
    Urgency.LIFE_THREATENING: _l("Life-threatening"),
    Urgency.URGENT: _l("Urgent"),
    Urgency.NORMAL: _l("Normal"),
}
STATUS_LABELS = {
    CaseStatus.NEW: _l("New"),
    CaseStatus.IN_PROGRESS: _l("In progress"),
    CaseStatus.REFERRED: _l("Referred"),
    CaseStatus.RESOLVED: _l("Resolved"),
    CaseStatus.CLOSED: _l("Closed"),
}


def opts(pairs: object) -> list[SelectChoice]:
    """``(value, label)`` pairs as WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(str(v), label) for v, label in pairs]  # type: ignore[attr-defined]


LOCALE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية", "es": "Español"}


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Sign in"))


class LocaleForm(FlaskForm):
    locale = SelectField(
        _l("Language"), choices=opts((code, LOCALE_NAMES[code]) for code in UI_LOCALES)
    )
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A form with only its CSRF token: sign out, reveal a number, confirm triage."""


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply"), validators=[DataRequired(), Length(max=1600)])
    submit = SubmitField(_l("Send reply"))


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Internal note"), validators=[DataRequired(), Length(max=4000)])
    submit = SubmitField(_l("Add note"))


class RelabelForm(FlaskForm):
    """The labels as shown travel with the form (``shown_*``), so only what the reviewer changed
    is corrected, whatever else changed on the case meanwhile."""

    sector = SelectField(_l("Sector"), validators=[Optional()])
    feedback_type = SelectField(
        _l("Feedback type"), choices=opts((k.value, v) for k, v in FEEDBACK_TYPE_LABELS.items())
    )
    urgency = SelectField(
        _l("Urgency"), choices=opts((k.value, v) for k, v in URGENCY_LABELS.items())
    )
    shown_sector = HiddenField()
    shown_feedback_type = HiddenField()
    shown_urgency = HiddenField()
    submit = SubmitField(_l("Save labels"))


class MarkSensitiveForm(FlaskForm):
    category = SelectField(_l("Safeguarding category"))
    submit = SubmitField(_l("Mark sensitive (moves the case to protection)"))


class ProtectionConfirmForm(FlaskForm):
    category = SelectField(_l("Safeguarding category"))
    submit = SubmitField(_l("Confirm sensitive"))


class OperationAlertsForm(FlaskForm):
    KEYS = ("emergency_number", "on_call_primary", "on_call_secondary", "escalation_minutes")

    emergency_number = StringField(_l("Emergency number"), validators=[Optional(), Length(max=32)])
    on_call_primary = StringField(_l("On-call number"), validators=[Optional(), Length(max=40)])
    on_call_secondary = StringField(
        _l("Second on-call number"), validators=[Optional(), Length(max=40)]
    )
    escalation_minutes = IntegerField(
        _l("Escalate after (minutes)"), validators=[Optional(), NumberRange(min=1, max=1440)]
    )
    submit = SubmitField(_l("Save"))


class AssignForm(FlaskForm):
    assignee = SelectField(_l("Assignee"), validators=[Optional()])
    submit = SubmitField(_l("Assign"))


class StatusForm(FlaskForm):
    status = SelectField(
        _l("New status"), choices=opts((k.value, v) for k, v in STATUS_LABELS.items())
    )
    partner = StringField(_l("Referral partner"), validators=[Optional(), Length(max=255)])
    note = StringField(_l("Referral note"), validators=[Optional(), Length(max=1000)])
    no_response_needed = BooleanField(_l("No response needed"))
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Change status"))


class BulkForm(FlaskForm):
    case_ids = SelectMultipleField(_l("Cases"), coerce=int, validate_choice=False)
    action = SelectField(
        _l("Bulk action"),
        choices=opts(
            [
                ("assign", _l("Assign")),
                ("label", _l("Label")),
                ("close", _l("Close with a message")),
            ]
        ),
    )
    assignee = SelectField(_l("Assignee"), validators=[Optional()], validate_choice=False)
    sector = SelectField(_l("Sector"), validators=[Optional()], validate_choice=False)
    feedback_type = SelectField(
        _l("Feedback type"),
        choices=opts([("", "—"), *((k.value, v) for k, v in FEEDBACK_TYPE_LABELS.items())]),
        validators=[Optional()],
    )
    message = TextAreaField(_l("Message"), validators=[Optional(), Length(max=1600)])
    submit = SubmitField(_l("Apply"))


class CannedResponseForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    language = SelectField(_l("Language"))
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=1600)])
    submit = SubmitField(_l("Save canned response"))


class BroadcastForm(FlaskForm):
    """Texts per language arrive as ``text_<code>`` fields, added by the view."""

    operation_id = SelectField(_l("Operation"), coerce=int)
    base_language = SelectField(_l("Base language"))
    languages = SelectMultipleField(_l("Languages"), validators=[Optional()])
    channels = SelectMultipleField(
        _l("Channels"),
        choices=opts([("sms", "SMS"), ("whatsapp", "WhatsApp")]),
        validators=[Optional()],
    )
    last_seen_days = IntegerField(
        _l("Seen in the last N days"), validators=[Optional(), NumberRange(min=1, max=3650)]
    )
    areas = StringField(_l("Areas (comma-separated)"), validators=[Optional(), Length(max=500)])
    contact_ids = HiddenField()
    scheduled_at = DateTimeLocalField(
        _l("Send at (optional)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    submit = SubmitField(_l("Save and preview"))


class SimulatorForm(FlaskForm):
    phone = StringField(
        _l("Pretend phone number"), validators=[DataRequired(), Length(min=6, max=20)]
    )
    channel = SelectField(_l("Channel"), choices=opts([("sms", "SMS"), ("whatsapp", "WhatsApp")]))
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=1600)])
    submit = SubmitField(_l("Send as this person"))
