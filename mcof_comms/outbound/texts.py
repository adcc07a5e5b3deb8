"""Texts the platform itself sends to people, rendered in the recipient's language.

Call these inside ``flask_babel.force_locale(locale)`` within an app context; outside one,
Flask-Babel silently returns English.
"""

from __future__ import annotations

from flask_babel import gettext as _


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
