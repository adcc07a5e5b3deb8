"""Statistical sector model: TF-IDF words + characters + lexicon hits, one logistic regression
per label, per-label thresholds tuned on out-of-fold predictions of the training data.

Why this shape: on the labelled crisis messages a plain TF-IDF + logistic regression is the
reference; adding the curated lexicon hit counts as features (they carry multilingual
vocabulary the training data lacks) and tuning a threshold per label beats it on the core
labels. Measured by ``bench/triage.py`` (dev file, 15,679 rows train / 5,235 scored, split by
a hash of the id; 2026-11-28, taxonomy 2026.11-1):

    core macro-F1 (food, water, shelter, health)   this model   TF-IDF+LR baseline   lexicons
    English text                                      0.704          0.695            0.662
    original column (mostly Creole), 1,976 rows       0.706          0.672            0.710
    macro-F1 over 10 labels, English                  0.513          0.487            0.463

With few training examples the assignment confidence also takes a vote from the lexicons,
weighted by what out-of-fold predictions support: trained on 300 original-language rows the
model scores 0.708 core macro-F1 with the vote and 0.672 without (lexicons alone: 0.710); on
the full data the chosen weight is 0.

Thresholds are capped so a label is never predicted for more than twice as many training
messages as carry it: on weak, noisy labels (transport, camp management) the unconstrained
F1 optimum is "predict nearly everything", which would flood a sector's inbox.

Training is deterministic: folds are chosen by a hash of the text and liblinear is seeded.
The model serialises to bytes (``to_bytes``/``from_bytes``) with a version string, so the app
can store candidates and promote one with ``should_promote`` only when it is strictly better on
held-back corrections. ``from_bytes`` unpickles: load only bytes this platform produced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from mcof_comms.pipeline import artifacts
from mcof_comms.pipeline.decisions import SectorMatch
from mcof_comms.pipeline.lexicon import Matcher, hit_score, normalize, tokenize
from mcof_comms.pipeline.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, load_taxonomy
from mcof_comms.pipeline.tfidf import FastTfidf, add_blocks

FORMAT = b"MCOF-SECTOR-MODEL/1\n"
Example = tuple[str, Iterable[str]]

_WORD_PATTERN = r"(?u)\b\w+\b"


def _stable_fraction(text: str) -> float:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Scores:
    """F1 per label and averages; macro averages only labels with positives in the data."""

    per_label: dict[str, float]
    macro_f1: float
    core_macro_f1: float | None
    micro_f1: float
    n: int
    support: dict[str, int] = field(default_factory=dict)

    @property
    def primary(self) -> float:
        """Core macro-F1 when core labels were scored, else macro-F1."""
        return self.core_macro_f1 if self.core_macro_f1 is not None else self.macro_f1


def f1_scores(
    truth: Sequence[frozenset[str]],
    predicted: Sequence[frozenset[str]],
    labels: Sequence[str],
    core_labels: Sequence[str] = (),
) -> Scores:
    """Per-label, macro, core-macro and micro F1 of set predictions."""
    per_label: dict[str, float] = {}
    support: dict[str, int] = {}
    tp_all = fp_all = fn_all = 0
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if label in t and label in p)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if label not in t and label in p)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if label in t and label not in p)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        support[label] = tp + fn
        if tp + fn == 0:
            continue
        per_label[label] = round(2 * tp / (2 * tp + fp + fn), 4)
    macro = round(float(np.mean(list(per_label.values()))), 4) if per_label else 0.0
    core = [per_label[c] for c in core_labels if c in per_label]
    core_macro = round(float(np.mean(core)), 4) if core else None
    denom = 2 * tp_all + fp_all + fn_all
    micro = round(2 * tp_all / denom, 4) if denom else 0.0
    return Scores(per_label, macro, core_macro, micro, len(truth), support)


def _best_threshold(probs: np.ndarray, truth: np.ndarray) -> float:
    """Threshold in [0.3, 0.85] with the best F1 that predicts at most twice the true count.

    The cap matters for weak, noisy labels: without it the F1 optimum there is "predict
    nearly everything", which would flood a sector's inbox. 0.5 when positives are too few.
    """
    if truth.sum() < 8:
        return 0.5
    best_t, best_f = 0.5, -1.0
    for t in np.arange(0.3, 0.851, 0.05):
        pred = probs >= t
        if pred.sum() > 2 * truth.sum():
            continue
        tp = float(np.sum(pred & truth))
        f = 2 * tp / (pred.sum() + truth.sum()) if (pred.sum() + truth.sum()) else 0.0
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    return round(best_t, 2) if best_f >= 0 else 0.85


class SectorModel:
    """A trained multi-label sector/referral classifier; immutable once trained."""

    def __init__(
        self,
        *,
        version: str,
        labels: tuple[str, ...],
        core_labels: tuple[str, ...],
        word: TfidfVectorizer,
        char: TfidfVectorizer,
        lexicon: Matcher,
        lexicon_concepts: tuple[str, ...],
        lexicon_scale: float,
        coef: np.ndarray,
        intercept: np.ndarray,
        thresholds: np.ndarray,
        trained_at: str,
        n_examples: int,
        lexicon_weight: float = 0.0,
        lexicon_hit: float = 0.6,
    ) -> None:
        """Use :func:`train_sector_model` or :meth:`from_bytes` instead."""
        self.version = version
        self.labels = labels
        self.core_labels = core_labels
        self._word = word
        self._char = char
        self._lexicon = lexicon
        self._lexicon_concepts = lexicon_concepts
        self._lexicon_scale = lexicon_scale
        self._coef_t = np.ascontiguousarray(coef.T, dtype=np.float32)
        self._fast: tuple[FastTfidf, FastTfidf] | None = None
        self._intercept = intercept.astype(np.float32)
        self.thresholds = thresholds
        self.trained_at = trained_at
        self.n_examples = n_examples
        self.lexicon_weight = lexicon_weight
        self._lexicon_hit = lexicon_hit
        index = {c: j for j, c in enumerate(lexicon_concepts)}
        self._label_concepts = np.array(
            [index[_concept_of(label, lexicon_concepts)] for label in labels]
        )

    @property
    def source(self) -> str:
        """Source tag used in SectorMatch, e.g. ``model:3``."""
        return f"model:{self.version}"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Model probability per (text, label), before calibration and the lexicon vote."""
        return self._probs_and_lexicon(texts)[0]

    def _probs_and_lexicon(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Model probabilities and lexicon confidences, per (text, label)."""
        n_lex = len(self._lexicon_concepts)
        if len(texts) == 1:
            z, scores = self._decision_one(texts[0])
            z, scores = z[None, :], scores[None, :]
        else:
            raw = _features(texts, self._word, self._char, self._lexicon, self._lexicon_concepts)
            scores = np.expm1(raw[:, raw.shape[1] - n_lex :].toarray())
            x = _scale_lexicon(raw, self._lexicon_scale, n_lex)
            z = np.asarray(x @ self._coef_t) + self._intercept
        probs = 1.0 / (1.0 + np.exp(-z))
        lexicon = 1.0 - (1.0 - self._lexicon_hit) ** scores[:, self._label_concepts]
        return probs, lexicon

    def _decision_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Same scores as the batch path for one text, without sklearn's per-call overhead.

        Triage runs one message at a time; scikit-learn's input validation costs more than
        the arithmetic there, so the TF-IDF rows are built here from the fitted vocabularies
        (sublinear tf, idf, L2 per block, exactly as TfidfVectorizer does). Returns the
        decision values and the lexicon hit score per concept.
        """
        norm = normalize(text)
        if self._fast is None:
            self._fast = (FastTfidf.of(self._word), FastTfidf.of(self._char))
        z, offset = add_blocks(self._intercept.astype(np.float64), self._fast, norm, self._coef_t)
        hits = self._lexicon.match(tokenize(norm))
        scores = np.zeros(len(self._lexicon_concepts))
        for j, concept in enumerate(self._lexicon_concepts):
            concept_hits = hits.get(concept)
            if concept_hits:
                scores[j] = hit_score(concept_hits)
                value = np.log1p(scores[j]) * self._lexicon_scale
                z = z + value * self._coef_t[offset + j]
        return z, scores

    def confidences(self, texts: Sequence[str]) -> np.ndarray:
        """Assignment confidence per (text, label): the calibrated model probability, blended
        with the lexicon's confidence by ``lexicon_weight`` (chosen in training); 0.5 = assigned.
        """
        probs, lexicon = self._probs_and_lexicon(texts)
        w = self.lexicon_weight
        return (1.0 - w) * self.calibrate(probs) + w * lexicon

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        """Map probabilities so each label's tuned threshold lands on 0.5."""
        t = self.thresholds
        low = 0.5 * probs / t
        high = 0.5 + 0.5 * (probs - t) / (1.0 - t)
        return np.where(probs < t, low, high)

    def predict_sets(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """Assigned labels per text."""
        return [
            frozenset(self.labels[j] for j in np.flatnonzero(row >= 0.5))
            for row in self.confidences(texts)
        ]

    def predict(self, text: str, *, min_confidence: float = 0.2) -> list[SectorMatch]:
        """SectorMatch per label above ``min_confidence``, best first (0.5 = assigned)."""
        conf = self.confidences([text])[0]
        out = [
            SectorMatch(label, round(float(c), 3), self.source)
            for label, c in zip(self.labels, conf, strict=True)
            if c >= min_confidence
        ]
        out.sort(key=lambda s: (-s.confidence, s.slug))
        return out

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_fast"] = None  # derived cache, rebuilt on first use
        return state

    def to_bytes(self) -> bytes:
        """Serialise (format header + pickle)."""
        return artifacts.dump(self, FORMAT)

    @classmethod
    def from_bytes(cls, data: bytes) -> SectorModel:
        """Load bytes written by :meth:`to_bytes` (trusted source only: this is pickle)."""
        return artifacts.load(data, FORMAT, cls)


def _concept_of(label: str, concepts: tuple[str, ...]) -> str:
    for concept in concepts:
        if concept.split(".", 1)[1] == label:
            return concept
    raise ValueError(f"label {label!r} has no lexicon concept")


def _choose_lexicon_weight(calibrated: np.ndarray, lexicon: np.ndarray, y: np.ndarray) -> float:
    """Weight of the lexicon vote with the best mean F1 on out-of-fold predictions.

    A weight must gain at least 0.002 mean F1 over the next smaller one to be chosen.
    """

    def mean_f1(conf: np.ndarray) -> float:
        pred = conf >= 0.5
        tp = (pred & y).sum(axis=0)
        denom = pred.sum(axis=0) + y.sum(axis=0)
        return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))

    best_w, best_f = 0.0, mean_f1(calibrated)
    for w in (0.1, 0.2, 0.3):
        f = mean_f1((1.0 - w) * calibrated + w * lexicon)
        if f > best_f + 0.002:
            best_w, best_f = w, f
    return best_w


def _lexicon_matrix(
    texts: Sequence[str], lexicon: Matcher, concepts: tuple[str, ...]
) -> sp.csr_matrix:
    rows, cols, vals = [], [], []
    index = {c: j for j, c in enumerate(concepts)}
    for i, text in enumerate(texts):
        hits = lexicon.match(tokenize(text))
        for concept, concept_hits in hits.items():
            j = index.get(concept)
            if j is not None:
                rows.append(i)
                cols.append(j)
                vals.append(np.log1p(hit_score(concept_hits)))
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(concepts)))


def _features(
    texts: Sequence[str],
    word: TfidfVectorizer,
    char: TfidfVectorizer,
    lexicon: Matcher,
    concepts: tuple[str, ...],
) -> sp.csr_matrix:
    norm = [normalize(t) for t in texts]
    return sp.hstack(
        [word.transform(norm), char.transform(norm), _lexicon_matrix(norm, lexicon, concepts)],
        format="csr",
    )


def _scale_lexicon(x: sp.csr_matrix, scale: float, n_lex: int) -> sp.csr_matrix:
    if scale == 1.0 or n_lex == 0:
        return x
    d = np.ones(x.shape[1], dtype=np.float64)
    d[-n_lex:] = scale
    return sp.csr_matrix(x @ sp.diags(d))


def _fit(
    x: sp.csr_matrix, y: np.ndarray, c: float, seed: int, class_weight: str | None
) -> tuple[np.ndarray, np.ndarray]:
    coef = np.zeros((y.shape[1], x.shape[1]))
    intercept = np.zeros(y.shape[1])
    for j in range(y.shape[1]):
        clf = LogisticRegression(
            solver="liblinear",
            dual=True,  # n_features > n_samples: the dual is ~5x faster, same optimum
            C=c,
            class_weight=class_weight,
            max_iter=500,
            random_state=seed,
        )
        clf.fit(x, y[:, j])
        coef[j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    return coef, intercept


def _out_of_fold(
    x: sp.csr_matrix,
    y: np.ndarray,
    texts: Sequence[str],
    folds: int,
    c: float,
    seed: int,
    class_weight: str | None,
) -> np.ndarray:
    """Probabilities for every training row from models that did not see it."""
    bucket = np.array([int(_stable_fraction(t) * folds) for t in texts])
    probs = np.zeros(y.shape, dtype=np.float64)
    for k in range(folds):
        held = bucket == k
        if held.all() or not held.any():
            continue
        coef, intercept = _fit(x[~held], y[~held], c, seed, class_weight)
        probs[held] = 1.0 / (1.0 + np.exp(-(np.asarray(x[held] @ coef.T) + intercept)))
    return probs


def train_sector_model(
    examples: Iterable[Example],
    *,
    taxonomy: Taxonomy | None = None,
    labels: Sequence[str] | None = None,
    version: str | None = None,
    min_positives: int = 3,
    c: float = 1.5,
    lexicon_scale: float = 1.0,
    class_weight: str | None = "balanced",
    tune_thresholds: bool = True,
    folds: int = 3,
    seed: int = 0,
) -> SectorModel:
    """Train from (text, labels) pairs; labels default to slugs with ``min_positives``."""
    data = [(text, frozenset(lbls)) for text, lbls in examples]
    if not data:
        raise ValueError("no training examples")
    taxonomy = taxonomy or load_taxonomy(DEFAULT_TAXONOMY_PATH)
    if labels is None:
        counts: dict[str, int] = {}
        for _, lbls in data:
            for label in lbls:
                counts[label] = counts.get(label, 0) + 1
        # a label carried by every example cannot be learnt either: leave it to the lexicon
        labels = [s for s in taxonomy.label_slugs if min_positives <= counts.get(s, 0) < len(data)]
    unknown = [s for s in labels if s not in taxonomy.label_slugs]
    if unknown:
        raise ValueError(f"unknown label slugs: {unknown}")
    if not labels:
        raise ValueError(f"no label has at least {min_positives} positive examples")
    labels = tuple(labels)

    texts = [t for t, _ in data]
    y = np.array([[label in lbls for label in labels] for _, lbls in data], dtype=bool)
    for j, label in enumerate(labels):
        if y[:, j].all() or not y[:, j].any():
            raise ValueError(f"label {label!r} needs both positive and negative examples")

    concepts = tuple(taxonomy.label(s).concept for s in taxonomy.label_slugs)
    lexicon = Matcher(
        {
            taxonomy.label(s).concept: taxonomy.label(s).lexicon.weighted_terms()
            for s in taxonomy.label_slugs
        }
    )
    small = len(texts) < 200
    word = TfidfVectorizer(
        ngram_range=(1, 2),
        token_pattern=_WORD_PATTERN,
        min_df=1 if small else 2,
        max_features=60000,
        sublinear_tf=True,
        dtype=np.float32,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=1 if small else 3,
        max_features=120000,
        sublinear_tf=True,
        dtype=np.float32,
    )
    norm = [normalize(t) for t in texts]
    word.fit(norm)
    char.fit(norm)
    x = _scale_lexicon(
        _features(texts, word, char, lexicon, concepts), lexicon_scale, len(concepts)
    )

    thresholds = np.full(len(labels), 0.5)
    lexicon_weight = 0.0
    hit = taxonomy.thresholds.lexicon_hit
    if tune_thresholds and not small:
        probs = _out_of_fold(x, y, texts, folds, c, seed, class_weight)
        thresholds = np.array([_best_threshold(probs[:, j], y[:, j]) for j in range(len(labels))])
        t = thresholds
        calibrated = np.where(probs < t, 0.5 * probs / t, 0.5 + 0.5 * (probs - t) / (1.0 - t))
        index = {concept: j for j, concept in enumerate(concepts)}
        columns = [index[_concept_of(label, concepts)] for label in labels]
        n_lex = len(concepts)
        lex_block = x[:, x.shape[1] - n_lex :].toarray() / lexicon_scale
        lexicon_conf = 1.0 - (1.0 - hit) ** np.expm1(lex_block[:, columns])
        lexicon_weight = _choose_lexicon_weight(calibrated, lexicon_conf, y)
    coef, intercept = _fit(x, y, c, seed, class_weight)
    return SectorModel(
        version=version or datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        labels=labels,
        core_labels=tuple(s for s in taxonomy.core_labels if s in labels),
        word=word,
        char=char,
        lexicon=lexicon,
        lexicon_concepts=concepts,
        lexicon_scale=lexicon_scale,
        coef=coef,
        intercept=intercept,
        thresholds=thresholds,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        n_examples=len(texts),
        lexicon_weight=lexicon_weight,
        lexicon_hit=hit,
    )


def evaluate(
    model: SectorModel, examples: Iterable[Example], *, core_labels: Sequence[str] | None = None
) -> Scores:
    """Score a model on (text, labels) pairs over the model's labels."""
    data = [(text, frozenset(lbls)) for text, lbls in examples]
    if not data:
        raise ValueError("no examples to evaluate on")
    predicted = model.predict_sets([t for t, _ in data])
    core = model.core_labels if core_labels is None else tuple(core_labels)
    return f1_scores([lbls for _, lbls in data], predicted, model.labels, core)


def should_promote(
    new_scores: Scores, current_scores: Scores | None, *, max_label_drop: float = 0.05
) -> bool:
    """Promote only if strictly better on the same held-back set, without a big per-label drop.

    ``primary`` (core macro-F1, else macro-F1) must increase; no label scored by both may lose
    more than ``max_label_drop`` F1 (a better average must not hide a collapsed label).
    """
    if current_scores is None:
        return True
    if new_scores.n != current_scores.n:
        raise ValueError("scores come from different example sets; evaluate both on the same one")
    if not new_scores.primary > current_scores.primary:
        return False
    for label, old in current_scores.per_label.items():
        new = new_scores.per_label.get(label)
        if new is not None and old - new > max_label_drop:
            return False
    return True
