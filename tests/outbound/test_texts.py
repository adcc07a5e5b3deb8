"""System texts come from the catalogs, per recipient, with each language's plural forms."""

from __future__ import annotations

from flask_babel import force_locale

from mcof_comms.outbound import texts
from mcof_comms.outbound.services import render_for
from tests.factories import make_inbound


def resolved(locale: str, days: int) -> str:
    with force_locale(locale):
        return texts.case_resolved("GOM-12", days)


def test_arabic_uses_all_six_plural_forms(app_ctx):
    forms = {n: resolved("ar", n) for n in (0, 1, 2, 3, 11, 100)}
    assert "في اليوم نفسه" in forms[0]
    assert "بعد يوم واحد" in forms[1]
    assert "بعد يومين" in forms[2]
    assert "بعد 3 أيام" in forms[3]
    assert "بعد 11 يومًا" in forms[11]
    assert "بعد 100 يوم " in forms[100]
    assert all("GOM-12" in text for text in forms.values())


def test_slavic_and_romance_plurals(app_ctx):
    assert "через 1 день" in resolved("uk", 1)
    assert "через 3 дні" in resolved("uk", 3)
    assert "через 5 днів" in resolved("uk", 5)
    assert "через 21 день" in resolved("ru", 21)
    assert "1 jour après" in resolved("fr", 1)
    assert "4 jours après" in resolved("fr", 4)
    assert "2 días después" in resolved("es", 2)
    assert "siku 2" in resolved("sw", 2)
    assert "2 jou apre" in resolved("ht", 2)
    assert "2 dias depois" in resolved("pt", 2)
    assert resolved("en", 1).startswith("Your case GOM-12 was resolved 1 day after")


def test_render_for_uses_the_contact_s_language(app_ctx):
    contact = make_inbound().contact
    contact.language = "ar"
    text = render_for(contact, texts.case_resolved, "GOM-7", 2)
    assert text.startswith("تم حل حالتك GOM-7 بعد يومين")
