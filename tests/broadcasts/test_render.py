"""Per-recipient rendering: language choice, Babel formatting per locale, RTL, plurals."""

from __future__ import annotations

import pytest

from mcof_comms.broadcasts.render import (
    RenderError,
    pick_language,
    render_template_variables,
    render_text,
    text_direction,
    validate_variables,
)

TEXTS = {"en": "x", "fr": "x", "ar": "x"}


def test_language_is_the_contact_s_else_the_operation_default_else_the_base():
    assert pick_language("ar", TEXTS, "fr", "en") == "ar"
    assert pick_language("fr-CD", TEXTS, "en", "en") == "fr"
    assert pick_language("sw", TEXTS, "fr", "en") == "fr"
    assert pick_language(None, TEXTS, "fr", "en") == "fr"
    assert pick_language("sw", TEXTS, "uk", "en") == "en"


def test_dates_times_and_numbers_follow_the_recipient_s_locale():
    variables = {
        "date": {"type": "date", "value": "2026-12-03"},
        "at": {"type": "time", "value": "2026-12-03T07:30:00Z"},
        "n": {"type": "number", "value": 12500.5},
    }
    tz = "Africa/Lubumbashi"  # UTC+2: 07:30Z is 09:30 there
    assert (
        render_text("{date} {at} {n}", "en", variables, tz)
        == "December 3, 2026 9:30\u202fAM 12,500.5"
    )
    assert render_text("{date} {at} {n}", "fr", variables, tz) == (
        "3 décembre 2026 09:30 12\u202f500,5"
    )
    uk = render_text("{date}", "uk", variables, tz)
    assert uk.startswith("3 грудня 2026")
    ht = render_text("{date}", "ht", variables, tz)  # Babel's Haitian data is thin: fr_HT
    assert ht == "3 décembre 2026"


def test_arabic_is_right_to_left_and_counts_in_six_plural_forms():
    assert text_direction("ar") == "rtl"
    assert text_direction("fa") == "rtl"
    assert text_direction("fr") == "ltr"
    forms = {
        n: render_text("{d}", "ar", {"d": {"type": "days", "value": n}}, "UTC")
        for n in (1, 2, 3, 11, 100)
    }
    assert forms[1] == "خلال يوم واحد"
    assert forms[2] == "خلال يومين"
    assert forms[3] == "خلال 3 أيام"
    assert forms[11] == "خلال 11 يومًا"
    assert forms[100] == "خلال 100 يوم"
    assert render_text("{d}", "en", {"d": {"type": "days", "value": 1}}, "UTC") == "in 1 day"


def test_unknown_placeholders_stay_and_bad_variables_are_refused():
    assert render_text("{x} {unknown} {", "en", {"x": "A"}, "UTC") == "A {unknown} {"
    with pytest.raises(RenderError, match="date"):
        validate_variables({"date": {"type": "date", "value": "tomorrow"}})
    with pytest.raises(RenderError):
        validate_variables({"bad name": "x"})
    assert render_template_variables(
        {"1": "{d}"}, "fr", {"d": {"type": "date", "value": "2026-01-05"}}, "UTC"
    ) == {"1": "5 janvier 2026"}
