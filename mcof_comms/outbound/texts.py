"""Texts the platform itself sends to people, rendered in the recipient's language.

Call these inside ``flask_babel.force_locale(locale)`` within an app context; outside one,
Flask-Babel silently returns English.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext


def opt_out_confirmation() -> str:
    return _(
        "You will not receive more messages from this service. "
        "Reply START at any time to receive them again."
    )


def opt_in_confirmation() -> str:
    return _(
        "You will receive messages from this service again. Reply STOP at any time to stop them."
    )


def help_text() -> str:
    return _(
        "This is the community feedback line. Write your question, complaint or suggestion "
        "in your own language; what you share is kept confidential. Reply STOP to stop messages."
    )


def language_confirmation() -> str:
    return _("We will write to you in this language from now on.")


# --- triage: acknowledgements (added by the triage work) ---


def acknowledgement(reference: str, due: str) -> str:
    """Tell the sender their feedback is a case, its reference and when to expect an answer."""
    return _(
        "Thank you, we received your message. Your reference is %(reference)s. "
        "We will respond by %(due)s.",
        reference=reference,
        due=due,
    )


def sensitive_acknowledgement(reference: str) -> str:
    """Safe reply to a safeguarding report: neutral, never repeats or names what was written,
    so it reveals nothing to someone else who reads the phone."""
    return _(
        "Thank you for contacting us. Your message is received and is handled in confidence "
        "by a trained person, who will contact you. Your reference is %(reference)s.",
        reference=reference,
    )


def life_threatening_guidance(reference: str, emergency_number: str | None = None) -> str:
    """First reply to a life-threatening report: go to emergency help now, we are alerted."""
    if emergency_number:
        return _(
            "If someone is in danger right now, call %(number)s or go to the nearest emergency "
            "service. We have alerted our team as a priority. Your reference is %(reference)s.",
            number=emergency_number,
            reference=reference,
        )
    return _(
        "If someone is in danger right now, go to the nearest emergency service or ask people "
        "nearby for help. We have alerted our team as a priority. Your reference is "
        "%(reference)s.",
        reference=reference,
    )


# --- outbound: loop-closing notice (added by the outbound work) ---


def case_resolved(reference: str, days: int) -> str:
    """Close the loop: the case is resolved; ``days`` since the person wrote (plural forms)."""
    return ngettext(
        "Your case %(reference)s was resolved %(num)d day after you wrote to us. "
        "Reply to this message if you still need help.",
        "Your case %(reference)s was resolved %(num)d days after you wrote to us. "
        "Reply to this message if you still need help.",
        days,
        reference=reference,
    )
