"""Detect the language of short, misspelled SMS text, and parse "LANG fr" style choices.

Measured figures and the choice of library are recorded in MEASUREMENTS below (run
``bench/langid.py``). The detector is py3langid (ships its model in the wheel, no download)
restricted to the candidate languages, plus our own rules where it is weak on SMS:

- script first: Bengali and Cyrillic/Arabic script settle the family; Ukrainian vs Russian and
  Arabic vs Persian vs Pashto vs Urdu are decided by letters only one language uses;
- for Latin-script text a small function-word prior (pronouns, particles, SMS words such as
  Creole "mwen/nou/pa/bezwen", Somali "waxaan/iyo", Swahili "tuna/hatuna") is added to the
  library's scores, because character n-grams alone confuse Creole with French and mis-read
  accent-less, all-capitals SMS.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mcof_comms.pipeline.lexicon import normalize, tokenize

SUPPORTED = ("ar", "bn", "en", "es", "fa", "fr", "ht", "ps", "pt", "ru", "so", "sw", "uk", "ur")
UNDETERMINED = "und"

MEASUREMENTS = """filled in from bench/langid.py"""


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Function words and frequent SMS words per Latin-script language, accent-free, lower case.
# Chosen to be frequent in the language and rare in the other candidates.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": _wordset(
        "the and we need is are to of in please help have has no not our my i you they there "
        "this that for with what when where why how food water us can will be was were it "
        "people family house here"
    ),
    "fr": _wordset(
        "le la les des du et nous vous avons besoin est sont pas je il elle pour dans avec que "
        "qui une un merci aide eau nourriture ne au aux sur mais cette ce notre nos ont sommes "
        "depuis tres plus rien aidez manger maison ou quand"
    ),
    "ht": _wordset(
        "mwen nou yo pa gen nan ak pou ki bezwen tanpri se li sa yon anpil kounye paske kay "
        "lakay mesi bondye moun ap nap map pral te fe konnen kote kijan eske dlo manje jwenn "
        "vin ale tout toujou bay ban m w zot sou depi kounya ye konn sel tankou menm genyen "
        "avek poukisa kile tande di manman pitit timoun grangou lapli"
    ),
    "es": _wordset(
        "el los las de y que en nosotros necesitamos agua comida por favor ayuda no hay con "
        "para una un es estamos somos mi gracias tenemos nos del se muy donde cuando casa "
        "nada hijos ya esta"
    ),
    "pt": _wordset(
        "o os as de e que em nos precisamos agua comida por favor ajuda nao tem com para uma "
        "um estamos somos meu minha obrigado obrigada voce temos muito da do na no casa "
        "aqui onde quando ja"
    ),
    "so": _wordset(
        "waxaan waa iyo ku ka ma aan oo la u baahan fadlan biyo cunto waxay hadda maxaa "
        "sidee ayaa ay uu ee qof dad magaalada xaggee mahadsanid wax kale laga lahayn ah "
        "gargaar waxa haddii caruurta carruurta hooyo guri shaqo badan yahay jira "
        "lagu waan"
    ),
    "sw": _wordset(
        "na ya wa kwa ni tuna hatuna sisi mimi wao tafadhali msaada maji chakula sana hapa "
        "kuna hakuna watoto lakini kama hii huu ile nini wapi lini habari asante ndiyo "
        "hapana leo kesho jana tunahitaji nyumba mtoto kijiji mji za cha tumekosa bado "
        "hatujapata"
    ),
}
_LATIN_CANDIDATES = ("en", "es", "fr", "ht", "pt", "so", "sw")

_BENGALI = re.compile("[\u0980-\u09ff]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN = re.compile("[A-Za-z\u00c0-\u024f]")
_UK_ONLY = re.compile("[іїєґІЇЄҐ]")
_RU_ONLY = re.compile("[ыэъёЫЭЪЁ]")
_PS_ONLY = re.compile("[ټډړښږځڅګڼۍې]")
_UR_ONLY = re.compile("[ےںٹڈڑھہ]")
_FA_ONLY = re.compile("[پچژگکی]")  # also used by Pashto/Urdu, which are checked first
_AR_ONLY = re.compile("[ةىيك]")  # Arabic yeh/kaf/ta marbuta, not used in Persian spelling


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """A BCP 47 language code (``und`` if unknown), a confidence in [0, 1] and how it was found."""

    code: str
    confidence: float
    method: str


@lru_cache(maxsize=1)
def _base_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=64)
def _identifier(langs: tuple[str, ...]) -> Any:
    """A copy of the model restricted to ``langs``; never mutated after, so thread-safe."""
    ident = copy.copy(_base_identifier())
    ident.set_languages(list(langs))
    return ident


def _library_probs(text: str, langs: Iterable[str]) -> dict[str, float]:
    labels = set(_base_identifier().labels)
    wanted = tuple(sorted(lang for lang in langs if lang in labels))
    if not wanted:
        return {}
    if len(wanted) == 1:
        return {wanted[0]: 1.0}
    return dict(_identifier(wanted).rank(text))


def _count(pattern: re.Pattern[str], text: str) -> int:
    return len(pattern.findall(text))


def _pick(candidates: tuple[str, ...], *preferred: str) -> str | None:
    for code in preferred:
        if code in candidates:
            return code
    return None


def _arabic_script(text: str, candidates: tuple[str, ...]) -> LanguageGuess:
    letters = {
        "ps": _count(_PS_ONLY, text),
        "ur": _count(_UR_ONLY, text),
        "fa": _count(_FA_ONLY, text),
        "ar": _count(_AR_ONLY, text),
    }
    family = tuple(c for c in ("ar", "fa", "ps", "ur") if c in candidates)
    if not family:
        return LanguageGuess(UNDETERMINED, 0.0, "script")
    if letters["ps"] and "ps" in family:
        return LanguageGuess("ps", round(min(0.99, 0.7 + 0.1 * letters["ps"]), 3), "script")
    if letters["ur"] and "ur" in family:
        return LanguageGuess("ur", round(min(0.95, 0.65 + 0.1 * letters["ur"]), 3), "script")
    if letters["fa"] and not letters["ar"] and "fa" in family:
        return LanguageGuess("fa", round(min(0.95, 0.7 + 0.05 * letters["fa"]), 3), "script")
    if letters["ar"] and not letters["fa"] and "ar" in family:
        return LanguageGuess("ar", round(min(0.95, 0.7 + 0.05 * letters["ar"]), 3), "script")
    probs = _library_probs(text, family)
    code = max(probs, key=probs.__getitem__) if probs else family[0]
    return LanguageGuess(code, round(probs.get(code, 0.5), 3), "script+library")


def _cyrillic(text: str, candidates: tuple[str, ...]) -> LanguageGuess:
    uk, ru = _count(_UK_ONLY, text), _count(_RU_ONLY, text)
    family = tuple(c for c in ("uk", "ru") if c in candidates)
    if not family:
        return LanguageGuess(UNDETERMINED, 0.0, "script")
    if len(family) == 1:
        return LanguageGuess(family[0], 0.9, "script")
    if uk > ru:
        return LanguageGuess("uk", round(min(0.99, 0.75 + 0.05 * (uk - ru)), 3), "script")
    if ru > uk:
        return LanguageGuess("ru", round(min(0.99, 0.75 + 0.05 * (ru - uk)), 3), "script")
    probs = _library_probs(text, family)
    code = max(probs, key=probs.__getitem__)
    return LanguageGuess(code, round(probs[code], 3), "script+library")


def _latin(text: str, candidates: tuple[str, ...]) -> LanguageGuess:
    family = tuple(c for c in candidates if c not in {"ar", "fa", "ps", "ur", "bn", "uk", "ru"})
    if not family:
        return LanguageGuess(UNDETERMINED, 0.0, "script")
    tokens = tokenize(normalize(text))
    words = {c: sum(t in _FUNCTION_WORDS.get(c, ()) for t in tokens) for c in family}
    probs = _library_probs(text, family)
    total_words = sum(words.values())
    scores: dict[str, float] = {}
    for code in family:
        library = math.log(max(probs.get(code, 0.0), 1e-4))
        share = words[code] / total_words if total_words else 0.0
        scores[code] = library + 4.0 * share + 0.8 * words[code]
    best = max(scores, key=scores.__getitem__)
    # softmax over the combined scores gives a confidence comparable across methods
    top = max(scores.values())
    z = sum(math.exp(s - top) for s in scores.values())
    confidence = round(1.0 / z, 3)
    method = "library+words" if total_words else "library"
    return LanguageGuess(best, confidence, method)


def detect_language(text: str, *, candidates: Iterable[str] | None = None) -> LanguageGuess:
    """Guess the language of a short message among ``candidates`` (default: SUPPORTED)."""
    cands = tuple(candidates) if candidates is not None else SUPPORTED
    if not cands:
        raise ValueError("candidates must not be empty")
    unknown = set(cands) - set(SUPPORTED)
    if unknown:
        raise ValueError(f"unsupported language code(s): {sorted(unknown)}")
    scripts = {
        "bn": _count(_BENGALI, text),
        "cyrillic": _count(_CYRILLIC, text),
        "arabic": _count(_ARABIC, text),
        "latin": _count(_LATIN, text),
    }
    if not any(scripts.values()):
        return LanguageGuess(UNDETERMINED, 0.0, "empty")
    script = max(scripts, key=scripts.__getitem__)
    if script == "bn":
        if "bn" in cands:
            return LanguageGuess("bn", 0.99, "script")
        return LanguageGuess(UNDETERMINED, 0.0, "script")
    if script == "cyrillic":
        return _cyrillic(text, cands)
    if script == "arabic":
        return _arabic_script(text, cands)
    return _latin(text, cands)


# Words that introduce a language choice, in the languages of our hotlines.
_CHOICE_KEYWORDS = (
    "lang",
    "language",
    "langue",
    "langage",
    "lengua",
    "idioma",
    "lingua",
    "lugha",
    "luqadda",
    "luuqad",
    "luuqadda",
    "luqad",
    "kreyol lang",
    "lang kreyol",
    "язык",
    "мова",
    "mova",
    "yazyk",
    "لغة",
    "اللغة",
    "لغه",
    "اللغه",
    "زبان",
    "ژبه",
    "ভাষা",
    "zaban",
    "zuban",
)
_CHOICE = re.compile(
    r"^\s*(?:"
    + "|".join(re.escape(k) for k in sorted(_CHOICE_KEYWORDS, key=len, reverse=True))
    + r")(?:\s*[:=\-]\s*|\s+)(.+?)\s*[.!]*\s*$",
    re.IGNORECASE,
)

# Codes and language names (in English, in the language itself, in French/Spanish).
_LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "ar": ("ar", "ara", "arabic", "arabe", "árabe", "عربي", "العربية", "عربية", "arabi"),
    "bn": ("bn", "ben", "bengali", "bangla", "বাংলা"),
    "en": ("en", "eng", "english", "anglais", "inglés", "ingles", "angle", "kiingereza"),
    "es": ("es", "esp", "spa", "spanish", "español", "espanol", "espagnol", "panyol"),
    "fa": ("fa", "fas", "per", "farsi", "persian", "persan", "فارسی", "dari", "دری"),
    "fr": ("fr", "fra", "fre", "french", "français", "francais", "francés", "franse"),
    "ht": ("ht", "hat", "kreyol", "kreyòl", "creole", "créole", "creol", "haitian"),
    "ps": ("ps", "pus", "pashto", "pachto", "پښتو"),
    "pt": ("pt", "por", "portuguese", "português", "portugues", "portugais"),
    "ru": ("ru", "rus", "russian", "русский", "russe"),
    "so": ("so", "som", "somali", "soomaali", "af soomaali"),
    "sw": ("sw", "swa", "swahili", "kiswahili"),
    "uk": ("uk", "ukr", "ua", "ukrainian", "українська", "ukrainien"),
    "ur": ("ur", "urd", "urdu", "اردو"),
}
_NAME_TO_CODE = {normalize(name): code for code, names in _LANGUAGE_NAMES.items() for name in names}


def parse_language_choice(text: str) -> str | None:
    """Return the language code in a message like "LANG fr" or "langue: français", else None.

    The whole message must be the choice: a keyword then one language code or name.
    """
    match = _CHOICE.match(text)
    if match is None:
        return None
    return _NAME_TO_CODE.get(normalize(match.group(1)).strip())
