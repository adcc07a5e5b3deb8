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
    """First reply to a life-threatening report: what to do right now, the operation's
    emergency number, and that on-call staff are alerted. Never a response time in days."""
    if emergency_number:
        return _(
            "If someone is in danger right now, call %(number)s now. Stay in a safe place if you "
            "can and keep your phone switched on. Our on-call team has been alerted. Your "
            "reference is %(reference)s.",
            number=emergency_number,
            reference=reference,
        )
    return _(
        "If someone is in danger right now, go to the nearest emergency service or ask people "
        "nearby for help now. Stay in a safe place if you can and keep your phone switched on. "
        "Our on-call team has been alerted. Your reference is %(reference)s.",
        reference=reference,
    )


def sensitive_life_threatening_guidance(reference: str, emergency_number: str | None = None) -> str:
    """A safeguarding report with a threat to life: the safe reply (never repeats what was
    written, asks nothing that someone else reading the phone would notice) plus what to do."""
    if emergency_number:
        return _(
            "Your message is received and is handled in confidence by a trained person. If you "
            "are in danger right now, call %(number)s or go to a safe place. Your reference is "
            "%(reference)s.",
            number=emergency_number,
            reference=reference,
        )
    return _(
        "Your message is received and is handled in confidence by a trained person. If you are "
        "in danger right now, go to a safe place or to the nearest emergency service. Your "
        "reference is %(reference)s.",
        reference=reference,
    )


# --- cases: pages to on-call staff (never the message, never the sender's number) ---


def on_call_page(reference: str, link: str | None = None) -> str:
    """The page to the operation's on-call number when a case is life-threatening."""
    if link:
        return _(
            "ALERT: life-threatening case %(reference)s needs action now. Open it and acknowledge "
            "the alert: %(link)s",
            reference=reference,
            link=link,
        )
    return _(
        "ALERT: life-threatening case %(reference)s needs action now. Open it in the console "
        "and acknowledge the alert.",
        reference=reference,
    )


def on_call_escalation(reference: str, link: str | None = None) -> str:
    """The page to the second on-call number when nobody acknowledged the alert in time."""
    if link:
        return _(
            "ESCALATION: nobody has acknowledged life-threatening case %(reference)s yet. Open "
            "it and acknowledge the alert: %(link)s",
            reference=reference,
            link=link,
        )
    return _(
        "ESCALATION: nobody has acknowledged life-threatening case %(reference)s yet. Open it "
        "in the console and acknowledge the alert.",
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
