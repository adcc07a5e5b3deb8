"""Language detection on short SMS-style lines, and parsing of "LANG xx" choices."""

from __future__ import annotations

import pytest

from mcof_comms.pipeline import detect_language, parse_language_choice

SAMPLES = [
    ("ar", "نحتاج ماء وطعام للأطفال في المخيم"),
    ("bn", "আমাদের খাবার আর পানি দরকার"),
    ("en", "we have no food since 3 days pls help"),
    ("es", "necesitamos agua y comida para los ninos"),
    ("fa", "ما به آب و غذا نیاز داریم لطفا کمک کنید"),
    ("fr", "nous avons besoin d eau et de nourriture svp"),
    ("ht", "tanpri nou bezwen dlo ak manje nou grangou"),
    ("ps", "موږ اوبو او خوړو ته اړتیا لرو"),
    ("pt", "precisamos de agua e comida para as criancas"),
    ("ru", "нам нужна вода и еда для детей"),
    ("so", "waxaan u baahanahay biyo iyo cunto fadlan"),
    ("sw", "tunahitaji maji na chakula tafadhali"),
    ("uk", "нам потрібна вода і їжа для дітей"),
    ("ht", "MWEN PA GEN KAY KOUNYE A MWEN NAN LARI"),
    ("fr", "JE CHERCHE MA FILLE DEPUIS LE SEISME"),
]


@pytest.mark.parametrize(("code", "text"), SAMPLES)
def test_detects_language_of_short_messages(code: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.code == code
    assert 0.0 < guess.confidence <= 1.0


def test_candidates_restrict_the_answer() -> None:
    assert detect_language("tanpri nou bezwen dlo", candidates=["fr", "en"]).code in {"fr", "en"}


def test_empty_text_is_undetermined() -> None:
    guess = detect_language("  123 !! ")
    assert guess.code == "und"
    assert guess.confidence == 0.0


def test_unsupported_candidate_is_an_error() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        detect_language("hello", candidates=["xx"])


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("LANG fr", "fr"),
        ("langue: français", "fr"),
        ("LANGUE AR", "ar"),
        ("IDIOMA es", "es"),
        ("lang kreyol", "ht"),
        ("Language = Somali", "so"),
        ("ЯЗЫК русский", "ru"),
        ("mova українська", "uk"),
        ("МОВА: українська", "uk"),
        ("اللغة العربية", "ar"),
        ("lugha kiswahili", "sw"),
    ],
)
def test_parses_language_choice(text: str, code: str) -> None:
    assert parse_language_choice(text) == code


@pytest.mark.parametrize(
    "text", ["I need language classes", "LANG klingon", "we need food", "langue", ""]
)
def test_other_messages_are_not_language_choices(text: str) -> None:
    assert parse_language_choice(text) is None
