"""Render a broadcast for one recipient: their language's text, placeholders in their locale.

Pure: values in, text out. Broadcast texts are written by responders, so they are data (a dict
per language), not gettext msgids; only the placeholders are formatted, by Babel, in the
recipient's locale and the operation's time zone, so a distribution date reads the way the
recipient's language writes dates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.numbers import format_currency, format_decimal

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
VARIABLE_TYPES = ("text", "date", "datetime", "time", "number", "currency", "days")
DATE_FORMATS = ("short", "medium", "long", "full")

#: Languages whose CLDR data is thin in Babel: format as a close, complete locale.
FORMAT_LOCALE = {"ht": "fr_HT"}


class RenderError(ValueError):
    """A variable cannot be formatted (bad type or value); the message names it."""


def pick_language(
    contact_language: str | None,
    translations: Mapping[str, str],
    default_language: str | None,
    base_language: str,
) -> str:
    """The recipient's language if written, else the operation default, else the base."""
    for candidate in (contact_language, default_language):
        if not candidate:
            continue
        if translations.get(candidate):
            return candidate
        short = candidate.split("-")[0].split("_")[0]
        if translations.get(short):
            return short
    return base_language


def babel_locale(language: str) -> Locale:
    code = FORMAT_LOCALE.get(language, language).replace("-", "_")
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def text_direction(language: str) -> str:
    """``rtl`` for Arabic, Persian, Hebrew, Urdu...; ``ltr`` otherwise."""
    return str(babel_locale(language).text_direction)


def validate_variables(variables: Mapping[str, Any]) -> None:
    """Raise RenderError unless every variable can be formatted."""
    for name, spec in variables.items():
        if not PLACEHOLDER.fullmatch("{" + name + "}"):
            raise RenderError(f"variable name {name!r} must be letters, digits and _")
        format_variable(spec, babel_locale("en"), "UTC", name=name)


def format_variable(spec: Any, locale: Locale, timezone: str, *, name: str = "") -> str:
    """Format one variable ``{"type": ..., "value": ..., "format": ...}`` (or a plain string)."""
    if not isinstance(spec, Mapping):
        return str(spec)
    kind = spec.get("type", "text")
    value = spec.get("value")
    style = spec.get("format", "long" if kind == "date" else "medium")
    if kind not in VARIABLE_TYPES:
        raise RenderError(f"{name}: type must be one of {', '.join(VARIABLE_TYPES)}")
    if kind in ("date", "datetime", "time") and style not in DATE_FORMATS:
        raise RenderError(f"{name}: format must be one of {', '.join(DATE_FORMATS)}")
    try:
        if kind == "text":
            return str(value if value is not None else "")
        if kind == "date":
            return str(format_date(date.fromisoformat(str(value)), style, locale=locale))
        if kind in ("datetime", "time"):
            moment = _aware(str(value), timezone)
            zone = ZoneInfo(timezone)
            if kind == "time":
                return str(format_time(moment, "short", tzinfo=zone, locale=locale))
            return str(format_datetime(moment, style, tzinfo=zone, locale=locale))
        if kind == "number":
            return str(format_decimal(Decimal(str(value)), locale=locale))
        if kind == "currency":
            currency = str(spec.get("currency", "USD"))
            return str(format_currency(Decimal(str(value)), currency, locale=locale))
        # days: "in 3 days" / "dans 3 jours" / Arabic's six plural forms, from CLDR
        days = int(str(value))
        return str(
            format_timedelta(
                days * 86400,
                granularity="day",
                threshold=10**6,
                add_direction=True,
                locale=locale,
            )
        )
    except (ValueError, TypeError, InvalidOperation, KeyError) as exc:
        raise RenderError(f"{name}: cannot format {value!r} as {kind}") from exc


def _aware(value: str, timezone: str) -> datetime:
    """An ISO date-time; one without an offset is wall-clock time in the operation's zone."""
    if len(value) <= 8 and ":" in value:  # a bare time of day: today has no meaning here
        moment = datetime.combine(date(2000, 1, 1), time.fromisoformat(value))
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def render_text(text: str, language: str, variables: Mapping[str, Any], timezone: str) -> str:
    """Fill ``{placeholders}`` in ``text`` with variables formatted for ``language``.

    Unknown placeholders are left as written, so a stray brace in a message is harmless.
    """
    locale = babel_locale(language)
    cache: dict[str, str] = {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            return match.group(0)
        if name not in cache:
            cache[name] = format_variable(variables[name], locale, timezone, name=name)
        return cache[name]

    return PLACEHOLDER.sub(fill, text)


def render_template_variables(
    spec: Mapping[str, Any], language: str, variables: Mapping[str, Any], timezone: str
) -> dict[str, str]:
    """WhatsApp template variables (``{"1": "{date}"}``) rendered like the text."""
    return {
        str(key): render_text(str(value), language, variables, timezone)
        for key, value in spec.items()
    }
