"""A character n-gram language classifier, trained once per process from data in the repo.

py3langid knows Arabic, Persian, Bengali, Pashto, Ukrainian and Russian only in their own
scripts, so it cannot read Arabizi, Finglish, Banglish, romanised Pashto or Cyrillic typed in
Latin letters, and it has seen little Creole or Somali SMS. This model learns letter n-grams
and words from messages written the way people text (``data/langid_messages.jsonl``, the
``train`` split of the hand-written triage corpus), from hand-written word lists
(``data/langid_words.txt``) and from the Cyrillic messages spelt in Latin letters the ways
people do it. Nothing is downloaded; training takes about a second (``default_model`` caches it).

Training uses scikit-learn (TF-IDF, multinomial naive Bayes: as accurate as logistic
regression in cross-validation by crisis context on the training messages, 0.98, and trains in
a fraction of a second instead of 15); prediction reimplements the same arithmetic over a dict
and two arrays, because scikit-learn's per-call overhead on one short text is several times the
arithmetic itself.
"""

from __future__ import annotations

import json
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MESSAGES = DATA / "langid_messages.jsonl"
WORDS = DATA / "langid_words.txt"
AUTHORED = DATA / "authored"

_WORD = re.compile(r"[^\W_]+")
_WORD_FEATURE = "\x00"  # prefix: a whole word, never confused with a letter n-gram


def _latin_fold() -> dict[int, str]:
    """Accented Latin letters to their base letter: SMS is typed without accents anyway."""
    fold: dict[int, str] = {}
    for cp in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(cp))[0]
        if base != chr(cp) and base.isascii():
            fold[cp] = base.lower()
    fold[ord("’")] = "'"
    return fold


_FOLD = _latin_fold()


def features(text: str) -> list[str]:
    """Words and their 1- to 4-letter n-grams (with word boundaries); bare numbers dropped.

    Digits inside words stay: Arabizi writes ع ح ء خ as 3 7 2 5.
    """
    out: list[str] = []
    for token in _WORD.findall(text.lower().translate(_FOLD)):
        if token.isdigit():
            continue
        out.append(_WORD_FEATURE + token)
        out += token  # its letters
        padded = f" {token} "
        size = len(padded)
        out += [padded[i : i + 2] for i in range(size - 1)]
        out += [padded[i : i + 3] for i in range(size - 2)]
        out += [padded[i : i + 4] for i in range(size - 3)]
    return out


@dataclass(frozen=True, slots=True)
class NgramModel:
    """Naive Bayes over sublinear, L2-normalised TF-IDF n-grams, as plain arrays.

    ``table`` row i is feature i's idf, then its per-label weights times that idf, so that one
    gather gives both the norm and the scores.
    """

    labels: tuple[str, ...]
    index: dict[str, int]
    table: np.ndarray  # (features, 1 + labels)
    bias: np.ndarray

    def scores(self, text: str) -> dict[str, float] | None:
        """Log-probabilities per label, or None when no n-gram of the text is known."""
        index = self.index
        hits = [
            (i, n) for f, n in Counter(features(text)).items() if (i := index.get(f)) is not None
        ]
        if not hits:
            return None
        rows, counts = zip(*hits, strict=True)
        tf = 1.0 + np.log(np.array(counts, dtype=np.float64))
        gathered = self.table[np.array(rows, dtype=np.intp)]
        norm = math.sqrt(float(np.square(tf * gathered[:, 0]).sum()))
        z = (tf @ gathered[:, 1:]) / norm + self.bias
        z -= z.max()
        z -= math.log(float(np.exp(z).sum()))
        return dict(zip(self.labels, z.tolist(), strict=True))


def train(docs: Iterable[tuple[str, str]], *, alpha: float = 0.01) -> NgramModel:
    """Fit on (language, text) pairs; alpha 0.01 was best of 0.003-0.1 in cross-validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB

    pairs = list(docs)
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, dtype=np.float64)
    x = vectorizer.fit_transform([text for _, text in pairs])
    clf = MultinomialNB(alpha=alpha)
    clf.fit(x, [lang for lang, _ in pairs])
    idf = np.asarray(vectorizer.idf_, dtype=np.float64)[:, None]
    return NgramModel(
        labels=tuple(str(label) for label in clf.classes_),
        index={str(f): int(i) for f, i in vectorizer.vocabulary_.items()},
        table=np.ascontiguousarray(np.hstack([idf, idf * clf.feature_log_prob_.T])),
        bias=np.asarray(clf.class_log_prior_, dtype=np.float64),
    )


def read_messages(path: Path) -> Iterator[dict[str, str]]:
    """Messages with ``language`` and ``text`` from a JSON-lines file; other lines skipped."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and row.get("language") and row.get("text"):
                yield row


def read_word_lists(path: Path = WORDS) -> dict[str, list[str]]:
    """``code: words`` lines, grouped by code; ``#`` starts a comment."""
    words: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        code, sep, rest = line.partition(":")
        if sep and not line.startswith("#"):
            words.setdefault(code.strip(), []).extend(rest.split())
    return words


def word_list_docs(
    words: dict[str, list[str]], *, size: int = 5, rounds: int = 3
) -> list[tuple[str, str]]:
    """Cut each language's words into short pseudo-messages, shuffled a few times."""
    rng = random.Random(0)  # noqa: S311 - not for security: the same model in every process
    docs: list[tuple[str, str]] = []
    for code, pool in sorted(words.items()):
        for _ in range(rounds):
            shuffled = pool[:]
            rng.shuffle(shuffled)
            docs += [
                (code, " ".join(shuffled[i : i + size])) for i in range(0, len(shuffled), size)
            ]
    return docs


def _spelling(letters: str, latin: str) -> dict[str, str]:
    """Cyrillic letters to space-separated Latin spellings ("_": nothing)."""
    return dict(zip(letters, latin.split(), strict=True))


_UK = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
_RU = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
# Two common ways of typing Cyrillic in Latin letters: passport-like, and phone-keyboard.
_CYRILLIC_LATIN = {
    "uk": (
        _spelling(
            _UK, "a b v h g d e ye zh z y i yi y k l m n o p r s t u f kh ts ch sh shch ' yu ya"
        ),
        _spelling(_UK, "a b v g g d e ie j z y i i i k l m n o p r s t u f h c ch sh sch _ iu ia"),
    ),
    "ru": (
        _spelling(
            _RU, "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch _ y ' e yu ya"
        ),
        _spelling(_RU, "a b v g d e e j z i i k l m n o p r s t u f h c 4 sh sh _ i _ e u ya"),
    ),
}


def romanise_cyrillic(text: str, table: dict[str, str]) -> str:
    """Spell a Cyrillic message in Latin letters with one of the tables above."""
    return "".join(table.get(ch, ch).replace("_", "") for ch in text.lower())


_CYRILLIC = re.compile("[а-яіїєґё]")


def message_docs(messages: Iterable[dict[str, str]]) -> list[tuple[str, str]]:
    """Messages as (language, text), plus their Cyrillic ones spelt in Latin letters."""
    docs: list[tuple[str, str]] = []
    for m in messages:
        docs.append((m["language"], m["text"]))
        if _CYRILLIC.search(m["text"].lower()):
            for table in _CYRILLIC_LATIN.get(m["language"], ()):
                docs.append((m["language"], romanise_cyrillic(m["text"], table)))
    return docs


def training_docs() -> list[tuple[str, str]]:
    """Every (language, text) pair the shipped model learns from."""
    messages = list(read_messages(MESSAGES))
    if AUTHORED.is_dir():
        for path in sorted(AUTHORED.glob("*.jsonl")):
            messages += read_messages(path)
    return message_docs(messages) + word_list_docs(read_word_lists())


@cache
def default_model() -> NgramModel:
    """The model trained on the shipped data, once per process."""
    return train(training_docs())
