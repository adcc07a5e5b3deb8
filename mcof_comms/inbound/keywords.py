"""Whole-message consent keywords (stop, start, help) in the languages we serve."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml


class KeywordKind(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


@dataclass(frozen=True)
class KeywordMatch:
    kind: KeywordKind
    language: str  # the language whose list matched: the confirmation is written in it


_PUNCTUATION = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """Fold case, strip accents (and Arabic diacritics) and punctuation, collapse spaces."""
    kept: list[str] = []
    base_is_cyrillic = False
    for char in unicodedata.normalize("NFKD", text.casefold()):
        if not unicodedata.combining(char):
            base_is_cyrillic = "CYRILLIC" in unicodedata.name(char, "")
            kept.append(char)
        elif base_is_cyrillic:  # й and ї are letters of their own, not accented и and і
            kept.append(char)
    folded = unicodedata.normalize("NFC", "".join(kept))
    return " ".join(_PUNCTUATION.sub(" ", folded).split())


class KeywordBook:
    """Keyword lists from config, normalised once; ``match`` is a dictionary lookup."""

    def __init__(self, lists: dict[str, dict[str, list[str]]]) -> None:
        self._index: dict[str, KeywordMatch] = {}
        for kind in KeywordKind:
            for language, words in (lists.get(kind.value) or {}).items():
                for word in words:
                    key = normalize(str(word))
                    # the first language listed wins for words shared by several (STOP: en)
                    self._index.setdefault(key, KeywordMatch(kind, str(language)))

    @classmethod
    def from_file(cls, path: Path) -> KeywordBook:
        with path.open(encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh) or {})

    def match(self, text: str) -> KeywordMatch | None:
        key = normalize(text)
        if not key or len(key) > 40:
            return None
        return self._index.get(key)

    def __len__(self) -> int:
        return len(self._index)
