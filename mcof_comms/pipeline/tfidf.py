"""TF-IDF rows of one text without scikit-learn's per-call overhead.

Triage runs one message at a time, and scikit-learn's input validation costs more than the
arithmetic there. The rows are built from a fitted vectorizer's vocabulary and idf exactly as
``TfidfVectorizer(sublinear_tf=True, norm="l2")`` builds them, so the fast path and the batch
path give the same scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


@dataclass(frozen=True)
class FastTfidf:
    """A fitted vectorizer's analyzer, vocabulary and idf."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> FastTfidf:
        return cls(
            vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_.astype(np.float64)
        )

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Column indices and values of the text's row (sublinear tf, idf, L2); None if empty."""
        counts: dict[int, int] = {}
        for feature in self.analyze(text):
            j = self.vocabulary.get(feature)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return None
        idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[idx]
        return idx, values / np.sqrt(values @ values)


def add_blocks(
    z: np.ndarray, blocks: Sequence[FastTfidf], text: str, coef_t: np.ndarray
) -> tuple[np.ndarray, int]:
    """``z`` plus the text's rows of consecutive feature blocks times ``coef_t`` (features x
    outputs); returns it and the offset where the next block of features starts."""
    offset = 0
    for block in blocks:
        row = block.row(text)
        if row is not None:
            z = z + row[1] @ coef_t[row[0] + offset]
        offset += len(block.vocabulary)
    return z, offset
