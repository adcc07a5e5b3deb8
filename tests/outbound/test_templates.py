"""Reply templates: variables WhatsApp accepts, or no template at all."""

from __future__ import annotations

from mcof_comms.outbound.templates import MAX_VARIABLE, reply_template

SETTINGS = {"reply_templates": {"fr": {"content_sid": "HX1", "variables": {"1": "{text}"}}}}


def test_a_multi_line_text_becomes_one_line() -> None:
    found = reply_template(
        SETTINGS, "fr", None, text="Bureau B\n\nde 9 h\tà     12 h", reference=None
    )
    assert found == ("HX1", {"1": "Bureau B de 9 h à 12 h"})


def test_a_text_too_long_for_a_template_goes_without_one() -> None:
    assert (
        reply_template(SETTINGS, "fr", None, text="x" * (MAX_VARIABLE + 1), reference=None) is None
    )


def test_the_operations_language_stands_in_for_a_missing_one() -> None:
    assert reply_template(SETTINGS, "sw", "fr", text="Karibu", reference=None) == (
        "HX1",
        {"1": "Karibu"},
    )
    assert reply_template(SETTINGS, "sw", "en", text="Karibu", reference=None) is None
