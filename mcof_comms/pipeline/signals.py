"""Learned safety signals: safeguarding, its category, life threat, urgency and feedback type.

Why a model and not only lexicons: people report abuse indirectly ("he said I get extra
rations if I visit him at night"), for a neighbour, inside a request, misspelled and
romanised, in 13 languages. Keyword lists caught about one report in eight on messages from
unseen crisis settings; a linear model over character n-grams (robust to spelling and
romanisation), words and the lexicons' concept hits (which carry vocabulary across
languages) catches most of them. Measured by ``bench/triage.py`` on the ``test`` split of
the development corpus, whose crisis contexts the model never saw.

Thresholds are chosen for recall, not accuracy: on out-of-fold predictions grouped by crisis
context (so a threshold is tuned on settings its model did not see), the safeguarding
threshold is the highest one that still catches ``SAFEGUARDING_RECALL`` of the reports, and
likewise for life threat. A false alarm costs a protection officer one look; a missed report
exposes a survivor. ``bench/triage.py`` prints the precision this costs.

Confidences are calibrated so that each head's threshold lands on 0.5, like the sector model.
The model serialises with a format header (``to_bytes``/``from_bytes``, pickle: load only
bytes this platform produced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from mcof_comms.pipeline import artifacts
from mcof_comms.pipeline.corpus import Labelled, fingerprint
from mcof_comms.pipeline.decisions import classify_urgency, detect_sensitivity, match_text
from mcof_comms.pipeline.lexicon import Hit, Matcher, hit_score, normalize, tokenize
from mcof_comms.pipeline.model import SectorModel, train_sector_model
from mcof_comms.pipeline.taxonomy import FEEDBACK_TYPES, SENSITIVITY_CATEGORIES, Taxonomy
from mcof_comms.pipeline.tfidf import FastTfidf, add_blocks

FORMAT = b"MCOF-SIGNAL-MODEL/1\n"
SAFEGUARDING_RECALL = 0.97  # out of fold, grouped by context; the test target is 0.97
LIFE_RECALL = 0.95
FOLDS = 5
_WORD_PATTERN = r"(?u)\b\w+\b"
_THRESHOLDED = ("sensitive", "life_threatening", "urgent", "threat")


@dataclass(frozen=True, slots=True)
class Signals:
    """What the model says about one message; confidences >= 0.5 mean "yes"."""

    sensitive: float
    category: str
    category_confidence: float
    life_threatening: float
    urgent: float
    feedback_type: str
    feedback_confidence: float


def _threshold_for_recall(
    probs: np.ndarray, truth: np.ndarray, recall: float, caught: np.ndarray | None = None
) -> float:
    """The highest threshold at which the model, beside what the rules already ``caught``,
    finds at least ``recall`` of the positives (out of fold)."""
    caught = np.zeros_like(truth) if caught is None else caught
    needed = int(np.ceil(recall * truth.sum())) - int(np.sum(truth & caught))
    missed = np.sort(probs[truth & ~caught])[::-1]
    if needed <= 0 or len(missed) == 0:
        return 0.9
    return float(np.clip(missed[min(needed, len(missed)) - 1] - 1e-6, 0.01, 0.9))


def _threshold_for_f1(probs: np.ndarray, truth: np.ndarray) -> float:
    best_t, best_f = 0.5, -1.0
    for t in np.arange(0.1, 0.91, 0.05):
        pred = probs >= t
        denom = pred.sum() + truth.sum()
        f = 2 * float(np.sum(pred & truth)) / denom if denom else 0.0
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    return round(best_t, 2)


def calibrate(probs: np.ndarray | float, threshold: float) -> np.ndarray:
    """Map a probability so that ``threshold`` lands on 0.5 (monotonic, 0 and 1 fixed)."""
    p = np.asarray(probs, dtype=np.float64)
    return np.where(
        p < threshold, 0.5 * p / threshold, 0.5 + 0.5 * (p - threshold) / (1.0 - threshold)
    )


class _Features:
    """Character n-grams, words and lexicon concept hits of normalised text."""

    def __init__(self, matcher: Matcher, lexicon_scale: float = 0.5) -> None:
        self.matcher = matcher
        self.concepts = matcher.concepts
        self.lexicon_scale = lexicon_scale
        self.char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(1, 5),
            min_df=2,
            max_features=150_000,
            sublinear_tf=True,
            dtype=np.float32,
        )
        self.word = TfidfVectorizer(
            ngram_range=(1, 2), token_pattern=_WORD_PATTERN, sublinear_tf=True, dtype=np.float32
        )

    def fit(self, norm: Sequence[str]) -> _Features:
        """Fit the vocabularies on normalised texts."""
        self.char.fit(norm)
        self.word.fit(norm)
        return self

    def lexicon(self, norm: Sequence[str]) -> sp.csr_matrix:
        """Concept hit counts of normalised texts (does not depend on the fit)."""
        index = {c: j for j, c in enumerate(self.concepts)}
        rows, cols, vals = [], [], []
        for i, text in enumerate(norm):
            for concept, hits in self.matcher.match(tokenize(text)).items():
                rows.append(i)
                cols.append(index[concept])
                vals.append(self.lexicon_scale * np.log1p(hit_score(hits)))
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(norm), len(self.concepts)))

    def transform(self, norm: Sequence[str], lexicon: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """Feature rows of normalised texts (``lexicon`` if already computed)."""
        if lexicon is None:
            lexicon = self.lexicon(norm)
        return sp.hstack(
            [self.char.transform(norm), self.word.transform(norm), lexicon], format="csr"
        )


@dataclass(frozen=True)
class _Head:
    """A block of output columns: binary (one column) or one column per class."""

    name: str
    classes: tuple[str, ...]
    start: int

    @property
    def binary(self) -> bool:
        return len(self.classes) == 1

    @property
    def stop(self) -> int:
        return self.start + len(self.classes)


def _fit_binary(x: sp.csr_matrix, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    clf = LogisticRegression(
        solver="liblinear", dual=True, C=c, class_weight="balanced", max_iter=1000, random_state=0
    )
    clf.fit(x, y)
    return clf.coef_[0][:, None], clf.intercept_


def _fit_multi(
    x: sp.csr_matrix, y: Sequence[str], classes: Sequence[str], c: float
) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest: a liblinear fit per class is ~50x faster here than a multinomial fit over
    150,000 features, and the argmax is what triage uses."""
    labels = np.array(y)
    coef = np.zeros((x.shape[1], len(classes)))
    intercept = np.full(len(classes), -30.0)  # a class absent from training never wins
    for k, label in enumerate(classes):
        truth = labels == label
        if truth.any() and not truth.all():
            w, b = _fit_binary(x, truth, c)
            coef[:, k], intercept[k] = w[:, 0], b[0]
    return coef, intercept


def _fit_heads(
    x: sp.csr_matrix, data: Sequence[Labelled], c: float, *, binary_only: bool = False
) -> tuple[np.ndarray, np.ndarray, tuple[_Head, ...]]:
    """All heads (or only the thresholded binary ones) stacked into one weight matrix."""
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    heads: list[_Head] = []
    start = 0

    def add(name: str, classes: tuple[str, ...], fitted: tuple[np.ndarray, np.ndarray]) -> None:
        nonlocal start
        blocks.append(fitted)
        heads.append(_Head(name, classes, start))
        start += len(classes)

    sensitive = np.array([e.sensitive not in (None, "none") for e in data])
    life = np.array([e.urgency == "life_threatening" for e in data])
    urgent = np.array([e.urgency in ("life_threatening", "urgent") for e in data])
    threat = np.array([e.sensitive == "threat_to_life" for e in data])
    add("sensitive", ("yes",), _fit_binary(x, sensitive, c))
    add("life_threatening", ("yes",), _fit_binary(x, life, c))
    add("urgent", ("yes",), _fit_binary(x, urgent, c))
    add("threat", ("yes",), _fit_binary(x, threat, c))
    if binary_only:
        return _stack(blocks, heads)
    rows = np.flatnonzero(sensitive)
    add(
        "category",
        SENSITIVITY_CATEGORIES,
        _fit_multi(x[rows], [data[i].sensitive for i in rows], SENSITIVITY_CATEGORIES, c),  # type: ignore[misc]
    )
    typed = [i for i, e in enumerate(data) if e.feedback_type is not None]
    add(
        "feedback_type",
        FEEDBACK_TYPES,
        _fit_multi(x[typed], [data[i].feedback_type for i in typed], FEEDBACK_TYPES, c),  # type: ignore[misc]
    )
    return _stack(blocks, heads)


def _stack(
    blocks: Sequence[tuple[np.ndarray, np.ndarray]], heads: Sequence[_Head]
) -> tuple[np.ndarray, np.ndarray, tuple[_Head, ...]]:
    coef = np.hstack([b[0] for b in blocks]).astype(np.float32)
    intercept = np.concatenate([b[1] for b in blocks]).astype(np.float32)
    return coef, intercept, tuple(heads)


def _outputs(z: np.ndarray, heads: Sequence[_Head]) -> dict[str, np.ndarray]:
    """Probabilities per head: sigmoid for binary heads, normalised one-vs-rest otherwise."""
    out = {}
    for head in heads:
        block = z[:, head.start : head.stop]
        if head.binary:
            out[head.name] = 1.0 / (1.0 + np.exp(-block[:, 0]))
        else:
            p = 1.0 / (1.0 + np.exp(-block))
            out[head.name] = p / p.sum(axis=1, keepdims=True)
    return out


class SignalModel:
    """A trained signal model; immutable once trained. Use :func:`train_signal_model`."""

    def __init__(
        self,
        *,
        version: str,
        features: _Features,
        coef: np.ndarray,
        intercept: np.ndarray,
        heads: tuple[_Head, ...],
        thresholds: dict[str, float],
        n_examples: int,
        metrics: dict[str, float],
        sectors: SectorModel | None = None,
        taxonomy_version: str | None = None,
    ) -> None:
        self.version = version
        self.sectors = sectors  # sectors learnt from the same examples, before any correction
        self._features = features
        self._coef = coef
        self._intercept = intercept
        self._heads = heads
        self.thresholds = thresholds
        self.n_examples = n_examples
        self.metrics = metrics
        self.trained_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.taxonomy_version = taxonomy_version
        self._concept_index = {c: j for j, c in enumerate(features.concepts)}
        self._fast: tuple[FastTfidf, FastTfidf] | None = None

    @property
    def source(self) -> str:
        """Source tag of decisions, e.g. ``signals:3a9f0c12``."""
        return f"signals:{self.version}"

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Raw probabilities per head, before calibration."""
        x = self._features.transform([normalize(t) for t in texts])
        z = np.asarray(x @ self._coef) + self._intercept
        return _outputs(z, self._heads)

    def predict_many(self, texts: Sequence[str]) -> list[Signals]:
        """Calibrated signals per text (0.5 = the head's threshold)."""
        probs = self.probabilities(texts)
        return [self._signals(probs, i) for i in range(len(texts))]

    def _signals(self, probs: Mapping[str, np.ndarray], i: int) -> Signals:
        t = self.thresholds
        life = max(
            float(calibrate(probs["life_threatening"][i], t["life_threatening"])),
            float(calibrate(probs["threat"][i], t["threat"])),
        )
        cat = probs["category"][i]
        fb = probs["feedback_type"][i]
        return Signals(
            sensitive=round(float(calibrate(probs["sensitive"][i], t["sensitive"])), 3),
            category=SENSITIVITY_CATEGORIES[int(cat.argmax())],
            category_confidence=round(float(cat.max()), 3),
            life_threatening=round(life, 3),
            urgent=round(float(calibrate(probs["urgent"][i], t["urgent"])), 3),
            feedback_type=FEEDBACK_TYPES[int(fb.argmax())],
            feedback_confidence=round(float(fb.max()), 3),
        )

    def predict(self, text: str, hits: Mapping[str, Sequence[Hit]] | None = None) -> Signals:
        """Calibrated signals for one message; ``hits`` are its lexicon matches when the
        caller has them from the same taxonomy (see ``taxonomy_version``)."""
        z = self._decision_one(normalize(text), hits)
        return self._signals(_outputs(z[None, :], self._heads), 0)

    def _decision_one(self, norm: str, hits: Mapping[str, Sequence[Hit]] | None) -> np.ndarray:
        """``x @ coef + intercept`` for one text, the same as the batch path (``tfidf.py``)."""
        if self._fast is None:
            self._fast = (FastTfidf.of(self._features.char), FastTfidf.of(self._features.word))
        z, offset = add_blocks(self._intercept.astype(np.float64), self._fast, norm, self._coef)
        if hits is None:
            hits = self._features.matcher.match(tokenize(norm))
        for concept, concept_hits in hits.items():
            j = self._concept_index.get(concept)
            if j is not None and concept_hits:
                weight = self._features.lexicon_scale * np.log1p(hit_score(concept_hits))
                z = z + weight * self._coef[offset + j]
        return z

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_fast"] = None  # derived cache, rebuilt on first use
        return state

    def to_bytes(self) -> bytes:
        """Serialise (format header + pickle)."""
        return artifacts.dump(self, FORMAT)

    @classmethod
    def from_bytes(cls, data: bytes) -> SignalModel:
        """Load bytes written by :meth:`to_bytes` (trusted source only: this is pickle)."""
        return artifacts.load(data, FORMAT, cls)


def rule_signals(text: str, taxonomy: Taxonomy) -> tuple[bool, bool]:
    """Whether the lexicons and rules alone flag safeguarding, and life threat."""
    matched = match_text(text, taxonomy)
    sens = detect_sensitivity(text, taxonomy=taxonomy, matched=matched)
    urgency = classify_urgency(text, taxonomy=taxonomy, matched=matched, sensitivity=sens.value)
    return sens.value is not None, urgency.value == "life_threatening"


def _groups(data: Sequence[Labelled]) -> np.ndarray:
    return np.array([e.group or f"row-{i}" for i, e in enumerate(data)])


def train_signal_model(
    examples: Sequence[Labelled],
    *,
    taxonomy: Taxonomy,
    c: float = 10.0,
    safeguarding_recall: float = SAFEGUARDING_RECALL,
    life_recall: float = LIFE_RECALL,
    folds: int = FOLDS,
) -> SignalModel:
    """Train every head on ``examples`` and tune thresholds on grouped out-of-fold runs."""
    data = [e for e in examples if e.sensitive is not None and e.urgency is not None]
    if len(data) < 50:
        raise ValueError(f"{len(data)} fully labelled examples; at least 50 are needed")
    texts = [e.text for e in data]
    sensitive = np.array([e.sensitive != "none" for e in data])
    life = np.array([e.urgency == "life_threatening" for e in data])
    urgent = np.array([e.urgency != "normal" for e in data])
    if not (sensitive.any() and life.any() and (~sensitive).any()):
        raise ValueError("examples need safeguarding, life-threatening and ordinary messages")

    groups = _groups(data)
    norm = [normalize(t) for t in texts]
    lexicon = _Features(taxonomy.matcher).lexicon(norm)
    k = min(folds, len(set(groups)))
    threat = np.array([e.sensitive == "threat_to_life" for e in data])
    oof = {name: np.zeros(len(data)) for name in _THRESHOLDED}
    # vocabularies come from every text (no labels), so the folds share one feature matrix
    features = _Features(taxonomy.matcher).fit(norm)
    x = features.transform(norm, lexicon)
    for train_idx, held_idx in GroupKFold(n_splits=k).split(texts, groups=groups):
        part = [data[i] for i in train_idx]
        coef, intercept, heads = _fit_heads(x[train_idx], part, c, binary_only=True)
        probs = _outputs(np.asarray(x[held_idx] @ coef) + intercept, heads)
        for name, values in oof.items():
            values[held_idx] = probs[name]

    rules = [rule_signals(t, taxonomy) for t in texts]
    rule_sensitive = np.array([r[0] for r in rules])
    rule_life = np.array([r[1] for r in rules])
    # a threat to kill is life-threatening whatever the life head says: tune the threat head
    # first, then the life head for what rules and threats leave
    t_threat = _threshold_for_f1(oof["threat"], threat)
    by_threat = oof["threat"] >= t_threat
    thresholds = {
        "sensitive": _threshold_for_recall(
            oof["sensitive"], sensitive, safeguarding_recall, rule_sensitive
        ),
        "threat": t_threat,
        "life_threatening": _threshold_for_recall(
            oof["life_threatening"], life, life_recall, rule_life | by_threat
        ),
        "urgent": _threshold_for_f1(oof["urgent"], urgent),
    }
    flagged = (oof["sensitive"] >= thresholds["sensitive"]) | rule_sensitive
    metrics = {
        "oof_safeguarding_recall": round(float(np.mean(flagged[sensitive])), 3),
        "oof_safeguarding_precision": round(float(np.mean(sensitive[flagged])), 3),
        "oof_life_recall": round(
            float(
                np.mean(
                    (
                        (oof["life_threatening"] >= thresholds["life_threatening"])
                        | rule_life
                        | by_threat
                    )[life]
                )
            ),
            3,
        ),
        "rule_safeguarding_recall": round(float(np.mean(rule_sensitive[sensitive])), 3),
    }
    coef, intercept, heads = _fit_heads(x, data, c)
    sectors = train_sector_model(
        [(e.text, e.sectors) for e in examples],
        taxonomy=taxonomy,
        version=f"corpus-{fingerprint(data)}",
        min_positives=5,
    )
    return SignalModel(
        sectors=sectors,
        taxonomy_version=taxonomy.version,
        version=fingerprint(data),
        features=features,
        coef=coef,
        intercept=intercept,
        heads=heads,
        thresholds=thresholds,
        n_examples=len(data),
        metrics=metrics,
    )
