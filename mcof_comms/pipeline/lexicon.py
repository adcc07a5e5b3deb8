"""Normalise SMS text and match multilingual keyword lexicons against it.

Matching semantics (documented for editors in ``config/taxonomy.yaml``): text and terms are
normalised the same way, a term's words must match consecutive tokens, a word ending in ``*``
is a token prefix, Arabic-script tokens also match without one leading clitic. All lexicons of a
taxonomy are compiled into one :class:`Matcher`, so a message is scanned once for every concept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Combining accents used with Latin and Cyrillic letters: dropped, so "médecin" == "medecin".
_LATIN_MARKS = re.compile("[\u0300-\u036f]")
# Arabic harakat, superscript alef, Quranic marks and tatweel carry no meaning for matching.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ی": "ي",
        "ې": "ي",
        "ۍ": "ي",
        "ئ": "ي",
        "ک": "ك",
        "ؤ": "و",
        "\u200c": "",  # ZWNJ inside Persian words: "می‌خواهم" == "میخواهم"
        "\u200d": "",
        "’": "'",
        "ʼ": "'",
    }
)
# A token is a run of letters/digits plus the combining signs that Bengali and Devanagari words
# need (str.isalnum() is False for vowel signs, so plain \w would split those words).
_TOKEN = re.compile(
    r"(?:[^\W_]|[\u0981-\u0983\u09bc-\u09d7\u09e2\u09e3\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963])+|[?؟¿]"
)
_QUESTION_MARKS = {"؟": "?", "¿": "?"}
_ARABIC_LETTER = re.compile("[\u0600-\u06ff]")
# Leading clitics (conjunction, prepositions, article), longest first; one is removed at most.
_ARABIC_CLITICS = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل")


# Arabic-Indic, Persian and Bengali digits read as ASCII digits ("٣" == "3").
_DIGIT_FOLD = str.maketrans(
    {chr(base + i): str(i) for base in (0x0660, 0x06F0, 0x09E6, 0x0966) for i in range(10)}
)
# Arabizi (and romanised Pashto/Urdu/Persian) writes letters Latin lacks as digits: "3ayez",
# "7aram", "ma2i". Inside a Latin word they become the letters other writers use for the same
# sound, so "3ayez" and "ayez", "7aram" and "haram" are one word to every later step.
_ARABIZI = {"2": "a", "3": "a", "5": "kh", "6": "t", "7": "h", "8": "gh", "9": "q"}
_ARABIZI_WORD = re.compile(r"\b(?=[a-z0-9']*[a-z])[a-z0-9']*[235-9][a-z0-9']*\b")
# Three or more of one letter are emphasis ("pleeeease", "ساعدووووني"): two are kept.
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
# The few emoji people use as words in crisis messages; others are dropped by tokenize.
_EMOJI_WORDS = str.maketrans(
    {
        "\U0001f198": " sos ",  # SOS button
        "\U0001f691": " ambulance ",
        "\U0001fa78": " blood ",
        "\U0001f525": " fire ",
        "\U0001f30a": " flood ",
        "\U0001f52a": " knife ",
        "\U0001f52b": " gun ",
    }
)


def normalize(text: str) -> str:
    """Lower-case; drop Latin/Cyrillic accents; fold Arabic-script letter variants, non-ASCII
    digits, Arabizi digits inside Latin words, letters repeated for emphasis and a few emoji."""
    text = unicodedata.normalize("NFD", text.lower())
    text = _LATIN_MARKS.sub("", text)
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_FOLD)
    text = text.translate(_DIGIT_FOLD).translate(_EMOJI_WORDS)
    text = _ARABIZI_WORD.sub(_fold_arabizi, text)
    text = _ELONGATION.sub(r"\1\1", text)
    return unicodedata.normalize("NFC", text)


def _fold_arabizi(match: re.Match[str]) -> str:
    word = match.group(0)
    if _NUMBER_WITH_UNIT.fullmatch(word):
        return word  # "2nd", "5pm", "3km": numbers with a unit, not Arabizi
    # a lone digit stands for a letter; runs of digits ("covid19", "12b") are numbers
    return _LONE_DIGIT.sub(lambda m: _ARABIZI[m.group(0)], word)


_NUMBER_WITH_UNIT = re.compile(r"\d+(st|nd|rd|th|h|hrs|am|pm|km|kg|l|x|ml|mg|m|k|yrs|ans|mois)")
_LONE_DIGIT = re.compile(r"(?<!\d)[235-9](?!\d)")


def tokenize(text: str) -> list[str]:
    """Split already normalised text into word tokens and "?" tokens."""
    return [_QUESTION_MARKS.get(t, t) for t in _TOKEN.findall(text)]


def token_forms(token: str) -> tuple[str, ...]:
    """Return the token and, for Arabic script, the token without one leading clitic."""
    if not _ARABIC_LETTER.match(token):
        return (token,)
    for clitic in _ARABIC_CLITICS:
        if token.startswith(clitic) and len(token) - len(clitic) >= 2:
            return (token, token[len(clitic) :])
    return (token,)


@dataclass(frozen=True, slots=True)
class Hit:
    """One term of one concept found in a message; ``term`` is the normalised config term."""

    concept: str
    term: str
    start: int
    end: int
    weight: float


@dataclass(frozen=True, slots=True)
class _Entry:
    concept: str
    term: str
    words: tuple[tuple[str, bool], ...]  # (text, is_prefix)
    weight: float


def _word_matches(word: tuple[str, bool], forms: tuple[str, ...]) -> bool:
    text, is_prefix = word
    if is_prefix:
        return any(f.startswith(text) for f in forms)
    return text in forms


def parse_term(term: str) -> tuple[tuple[str, bool], ...]:
    """Turn a config term into normalised (word, is_prefix) pairs; raise ValueError if empty."""
    words: list[tuple[str, bool]] = []
    for raw in normalize(term).split():
        is_prefix = raw.endswith("*")
        parts = tokenize(raw.rstrip("*"))
        if not parts:
            continue
        # "l'eau" or "n'est" normalise to two tokens, exactly as the text does.
        words.extend((p, False) for p in parts[:-1])
        words.append((parts[-1], is_prefix))
    if not words:
        raise ValueError(f"term {term!r} has no word characters")
    return tuple(words)


class Matcher:
    """All lexicons of a taxonomy compiled for one pass over a message's tokens."""

    def __init__(self, lexicons: Mapping[str, Iterable[tuple[str, float]]]) -> None:
        """Compile ``{concept: [(term, weight), ...]}``."""
        self._exact: dict[str, list[_Entry]] = {}
        self._prefix: dict[str, list[_Entry]] = {}
        lengths: set[int] = set()
        self.concepts: tuple[str, ...] = tuple(lexicons)
        for concept, terms in lexicons.items():
            seen: set[str] = set()
            for term, weight in terms:
                words = parse_term(term)
                key = " ".join(w + ("*" if p else "") for w, p in words)
                if key in seen:
                    continue
                seen.add(key)
                entry = _Entry(concept, key, words, weight)
                first, is_prefix = words[0]
                if is_prefix:
                    self._prefix.setdefault(first, []).append(entry)
                    lengths.add(len(first))
                else:
                    self._exact.setdefault(first, []).append(entry)
        self._lengths = tuple(sorted(lengths))

    def match(self, tokens: list[str]) -> dict[str, list[Hit]]:
        """Return hits per concept; each (concept, term) counts once, at its first position,
        and one stretch of tokens counts once per concept (a word listed in two languages,
        "corrupt*" and "corrup*", is one piece of evidence, not two)."""
        forms = [token_forms(t) for t in tokens]
        found: dict[str, list[Hit]] = {}
        seen: set[tuple[str, str]] = set()
        spans: set[tuple[str, int, int]] = set()
        n = len(tokens)
        for i, token_variants in enumerate(forms):
            candidates: list[_Entry] = []
            for form in token_variants:
                candidates.extend(self._exact.get(form, ()))
                for length in self._lengths:
                    if length > len(form):
                        break
                    candidates.extend(self._prefix.get(form[:length], ()))
            for entry in candidates:
                if (entry.concept, entry.term) in seen:
                    continue
                size = len(entry.words)
                if i + size > n:
                    continue
                if (entry.concept, i, i + size) in spans:
                    continue
                if all(_word_matches(entry.words[j], forms[i + j]) for j in range(1, size)):
                    seen.add((entry.concept, entry.term))
                    spans.add((entry.concept, i, i + size))
                    hit = Hit(entry.concept, entry.term, i, i + size, entry.weight)
                    found.setdefault(entry.concept, []).append(hit)
        return found


def hit_score(hits: Iterable[Hit]) -> float:
    """Sum of term weights (strong terms 1, weak terms 0.5)."""
    return sum(h.weight for h in hits)
