"""The safety model in use, and its retraining on coordinators' and protection decisions.

Before any promotion the model in use is the one trained from the shipped corpus: trained,
not unpickled (the corpus ships in the package, training is deterministic and takes seconds),
once per process, when a worker starts (``warm_up``). Retraining adds the corrections that
are not held back to the corpus; the candidate replaces the model in use only when, on the
held-back corrections, it catches at least as many safeguarding reports and scores better on
the primary figure (the mean of safeguarding F1, life-threat F1 and feedback-type accuracy).
A promoted model is stored in the database like the sector model and loaded from there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import Message, ModelKind, ModelStatus, SectorModelVersion, TrainingExample
from mcof_comms.operations.services import cached
from mcof_comms.pipeline.corpus import Labelled, shipped_corpus, shipped_fingerprint
from mcof_comms.pipeline.signals import SignalModel, train_signal_model
from mcof_comms.pipeline.taxonomy import Taxonomy
from mcof_comms.pipeline.training import TrainOutcome, settle
from mcof_comms.pipeline.triage import triage

logger = logging.getLogger(__name__)

ALGORITHM = "signals:char-word-lexicon/logreg"

_base: dict[tuple[str, str], SignalModel] = {}
_promoted: dict[str, tuple[tuple[int, Any], SignalModel]] = {}
_lock = threading.Lock()


def base_signal_model(taxonomy: Taxonomy) -> SignalModel:
    """The model trained from the shipped corpus alone, once per process and taxonomy."""
    key = (taxonomy.version, shipped_fingerprint())
    model = _base.get(key)
    if model is not None:
        return model
    with _lock:
        model = _base.get(key)
        if model is None:
            started = time.monotonic()
            model = train_signal_model(shipped_corpus(), taxonomy=taxonomy)
            _base.clear()
            _base[key] = model
            logger.info(
                "signal model %s trained on %d messages in %.1f s",
                model.version,
                model.n_examples,
                time.monotonic() - started,
            )
    return model


def _promoted_key() -> tuple[int, Any] | None:
    row = db.session.execute(
        select(SectorModelVersion.id, SectorModelVersion.promoted_at).where(
            SectorModelVersion.status == ModelStatus.PROMOTED,
            SectorModelVersion.kind == ModelKind.SIGNALS,
        )
    ).first()
    return None if row is None else (row.id, row.promoted_at)


def get_signal_model(taxonomy: Taxonomy, *, fresh: bool = False) -> SignalModel:
    """The promoted safety model, else the one trained from the shipped corpus; which one is
    promoted is re-read at most every few seconds (``fresh`` reads it now)."""
    key = _promoted_key() if fresh else cached("promoted_signals", _promoted_key)
    if key is None:
        return base_signal_model(taxonomy)
    hit = _promoted.get("promoted")
    if hit is not None and hit[0] == key:
        return hit[1]
    data = db.session.scalar(
        select(SectorModelVersion.artifact).where(SectorModelVersion.id == key[0])
    )
    model = SignalModel.from_bytes(data)
    _promoted["promoted"] = (key, model)
    return model


def warm_up() -> None:
    """Prepare this process's safety model before it takes messages; never fails the caller
    (a database that is down now is retried by the first job)."""
    from mcof_comms.operations.services import get_taxonomy

    try:
        get_signal_model(get_taxonomy())
    except Exception:  # the worker must start anyway; the first job trains or reports
        logger.exception("could not prepare the signal model at start")
    finally:
        db.session.remove()


# --- retraining -----------------------------------------------------------------------------


def as_labelled(examples: Sequence[TrainingExample]) -> list[Labelled]:
    """Corrections as labelled messages. A label the reviewer did not give is the one triage
    gave and the reviewer left standing (the message's current value); a safeguarding label
    nobody gave on a message never flagged is "none"."""
    ids = [e.message_id for e in examples if e.message_id is not None]
    messages = {m.id: m for m in db.session.scalars(select(Message).where(Message.id.in_(ids)))}
    out = []
    for e in examples:
        message = messages.get(e.message_id) if e.message_id is not None else None
        sensitive = e.sensitive or (message.sensitive_category if message else None) or "none"
        urgency = e.urgency or (message.urgency.value if message and message.urgency else None)
        feedback = e.feedback_type or (
            message.feedback_type.value if message and message.feedback_type else None
        )
        out.append(
            Labelled(
                text=e.text,
                sectors=frozenset(e.sectors),
                feedback_type=feedback,
                sensitive=sensitive,
                urgency=urgency,
                language=e.language,
                group=f"correction:{e.case_id or e.id}",
            )
        )
    return out


@dataclass(frozen=True)
class SignalScores:
    """Triage's safety decisions with one model on held-back corrections."""

    safeguarding_recall: float | None
    primary: float
    n: int
    figures: dict[str, float]


def _f1(truth: Sequence[bool], predicted: Sequence[bool]) -> float | None:
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    denom = sum(truth) + sum(predicted)
    return 2 * tp / denom if denom else None


def score_signals(
    model: SignalModel, examples: Sequence[Labelled], taxonomy: Taxonomy
) -> SignalScores:
    """Score triage with ``model`` the way it runs in workers (rules included)."""
    results = [triage(e.text, taxonomy=taxonomy, signals=model) for e in examples]
    truth_s = [e.sensitive not in (None, "none") for e in examples]
    pred_s = [r.sensitivity is not None for r in results]
    positives = sum(truth_s)
    recall = (
        sum(t and p for t, p in zip(truth_s, pred_s, strict=True)) / positives
        if positives
        else None
    )
    figures: dict[str, float] = {}
    sg = _f1(truth_s, pred_s)
    life = _f1(
        [e.urgency == "life_threatening" for e in examples],
        [r.urgency.value == "life_threatening" for r in results],
    )
    typed = [(e, r) for e, r in zip(examples, results, strict=True) if e.feedback_type]
    if sg is not None:
        figures["safeguarding_f1"] = round(sg, 4)
    if life is not None:
        figures["life_threatening_f1"] = round(life, 4)
    if typed:
        accuracy = sum(e.feedback_type == r.feedback_type.value for e, r in typed) / len(typed)
        figures["feedback_type_accuracy"] = round(accuracy, 4)
    primary = sum(figures.values()) / len(figures) if figures else 0.0
    if recall is not None:
        figures["safeguarding_recall"] = round(recall, 4)
    return SignalScores(recall, round(primary, 4), len(examples), figures)


def should_promote_signals(new: SignalScores, current: SignalScores) -> bool:
    """Not worse on safeguarding recall, strictly better on the primary figure."""
    if new.n != current.n:
        raise ValueError("scores come from different example sets; evaluate both on the same one")
    if (
        current.safeguarding_recall is not None
        and new.safeguarding_recall is not None
        and new.safeguarding_recall < current.safeguarding_recall
    ):
        return False
    return new.primary > current.primary


def train_signals_and_maybe_promote(
    taxonomy: Taxonomy, *, min_examples: int = 20, force: bool = False
) -> TrainOutcome:
    """Train a candidate on the corpus and the corrections not held back, score it and the
    model in use on the held-back ones, promote it only if better. Flushes, never commits."""
    rows = list(db.session.scalars(select(TrainingExample).order_by(TrainingExample.id)))
    train = as_labelled([e for e in rows if not e.holdout])
    held = [e for e in as_labelled([e for e in rows if e.holdout]) if e.urgency]
    if len(train) < min_examples or not held:
        reason = f"not enough corrections ({len(train)} to train, {len(held)} held back)"
        return TrainOutcome(None, False, reason)
    last = db.session.scalars(
        select(SectorModelVersion)
        .where(SectorModelVersion.kind == ModelKind.SIGNALS)
        .order_by(SectorModelVersion.id.desc())
        .limit(1)
    ).first()
    if not force and last is not None and last.trained_on + last.evaluated_on == len(rows):
        return TrainOutcome(None, False, "no new corrections since the last model")

    candidate = SectorModelVersion(
        kind=ModelKind.SIGNALS,
        algorithm=ALGORITHM,
        taxonomy_version=taxonomy.version,
        trained_on=len(train),
        evaluated_on=len(rows) - len(train),
        artifact=b"",
    )
    db.session.add(candidate)
    db.session.flush()
    model = train_signal_model([*shipped_corpus(), *train], taxonomy=taxonomy)
    candidate.artifact = model.to_bytes()
    current = get_signal_model(taxonomy, fresh=True)
    new_scores = score_signals(model, held, taxonomy)
    old_scores = score_signals(current, held, taxonomy)
    candidate.score, candidate.baseline_score = new_scores.primary, old_scores.primary
    candidate.metrics = {
        "candidate": new_scores.figures,
        "in_use": old_scores.figures,
        "in_use_version": current.version,
        "thresholds": model.thresholds,
    }
    promote = should_promote_signals(new_scores, old_scores)
    settle(candidate, promote=promote)
    logger.info(
        "signal model %s %s: %.3f vs %.3f in use",
        candidate.id,
        "promoted" if promote else "rejected",
        new_scores.primary,
        old_scores.primary,
    )
    reason = "better than the model in use" if promote else "not better than the model in use"
    return TrainOutcome(candidate, promote, reason, new_scores.primary, old_scores.primary)
