"""Locale selection for the console, and the languages we ship catalogs for."""

from __future__ import annotations

from flask import has_request_context, request, session
from flask_login import current_user

#: Languages of the system texts sent to people (translations/<code>).
MESSAGE_LOCALES = ("en", "ar", "es", "fr", "ht", "pt", "sw", "uk", "ru", "fa")
#: Languages of the console.
UI_LOCALES = ("en", "fr", "ar", "es")


def select_ui_locale() -> str | None:
    """The user's choice, else the browser's, else English; jobs use ``force_locale``."""
    if not has_request_context():
        return None
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale:
        return str(current_user.locale)
    if session.get("locale") in UI_LOCALES:  # chosen before signing in
        return str(session["locale"])
    return request.accept_languages.best_match(UI_LOCALES) or "en"
