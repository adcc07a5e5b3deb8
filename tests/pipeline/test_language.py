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


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("uk", "Скажіть, будь ласка, де можна отримати їжу для дітей"),
        ("ru", "Скажите, пожалуйста, где можно получить еду для детей"),
        ("uk", "pidkazhit bud laska shcho robyty z dokumentamy, my vzhe tut tyzhden"),
        ("ru", "podskazhite pozhaluysta chto delat s dokumentami, my uzhe tut nedelyu"),
        ("ar", "ana w 3ayelti ma3na akl, el wlad ta3banin, wein fi msa3de?"),
        ("fa", "salam, ma hich chizi nadarim, bacheha gorosne hastan, lotfan komak konid"),
        ("bn", "amra ekhane 5 din dhore achi, khabar nai, bachara ki khabe? amader sahajjo korun"),
        ("ps", "zama kor pa selab ke wran shu, mung sara hich na laro, manana che komak wakrai"),
        ("ht", "mwen bezwen ed, kay mwen kraze, pitit mwen yo pa gen anyen pou yo manje"),
    ],
)
def test_detects_romanised_and_close_languages(code: str, text: str) -> None:
    assert detect_language(text).code == code


def test_creole_is_not_english_even_with_english_words() -> None:
    guess = detect_language("please mwen pa jwenn okenn help depi siklon an, nou bezwen dlo")
    assert guess.code == "ht"


def test_romanised_guess_respects_candidates() -> None:
    # a hotline that only takes English and French never answers Banglish
    guess = detect_language("amar bari te pani uthse", candidates=["en", "fr"])
    assert guess.code in {"en", "fr"}


def test_ngram_model_is_trained_once_per_process() -> None:
    from mcof_comms.pipeline import ngrams

    assert ngrams.default_model() is ngrams.default_model()


def test_romanised_cyrillic_training_text_has_no_cyrillic_left() -> None:
    from mcof_comms.pipeline import ngrams

    for code, tables in ngrams._CYRILLIC_LATIN.items():
        sample = "щойно їжа є" if code == "uk" else "щас съешь ёжик"
        for table in tables:
            assert not ngrams._CYRILLIC.search(ngrams.romanise_cyrillic(sample, table))
