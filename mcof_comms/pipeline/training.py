"""The database side of learning: corrections become examples, examples train a candidate
sector model, and the candidate replaces the model in use only when it scores better on
held-back corrections.

"The model in use" is the promoted model, or, before any promotion, the lexicons alone: a first
model must beat cold start to be promoted. Both are scored the way triage would use them (the
lexicon still answers for labels the model was not trained on).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Message,
    ModelKind,
    ModelStatus,
    SectorModelVersion,
    TrainingExample,
    User,
)
from mcof_comms.operations.services import cached, invalidate_caches
from mcof_comms.pipeline.model import Scores, SectorModel, should_promote, train_sector_model
from mcof_comms.pipeline.model import f1_scores as _f1_scores
from mcof_comms.pipeline.taxonomy import Taxonomy
from mcof_comms.pipeline.triage import triage

logger = logging.getLogger(__name__)

ALGORITHM = "tfidf-word-char+lexicon/logreg"
HOLDOUT_BUCKETS = 5  # one correction in five is held back for evaluation
MIN_TRAINING_EXAMPLES = 20
#: ``record_correction(sensitive=KEEP)``: leave the example's safeguarding label as it was.
KEEP: Any = object()


def is_holdout(message_id: int | None, text: str) -> bool:
    """Stable: the same correction is always on the same side of the split."""
    key = str(message_id) if message_id is not None else text
    return zlib.crc32(key.encode()) % HOLDOUT_BUCKETS == 0


def record_correction(
    message: Message,
    *,
    actor: User | None,
    sectors: list[str],
    feedback_type: str | None,
    urgency: str | None,
    source: str = "correction",
    sensitive: str | None = KEEP,
) -> TrainingExample:
    """Store (or replace) the labelled example for one message.

    ``sensitive`` is the safeguarding label (a category, or ``"none"`` for a case protection
    cleared); left as it was when not given, so a later sector correction keeps it."""
    example = db.session.scalars(
        select(TrainingExample).where(TrainingExample.message_id == message.id)
    ).first()
    if example is None:
        example = TrainingExample(
            message_id=message.id,
            text=message.body,
            holdout=is_holdout(message.id, message.body),
        )
        db.session.add(example)
    example.case_id = message.case_id
    example.actor_id = actor.id if actor else None
    example.language = message.language
    example.sectors = list(sectors)
    example.feedback_type = feedback_type
    example.urgency = urgency
    example.source = source
    if sensitive is not KEEP:
        example.sensitive = sensitive
    example.created_at = utcnow()
    db.session.flush()
    return example


# --- the model in use -----------------------------------------------------------------------

_model_cache: dict[str, tuple[tuple[int, Any], SectorModel]] = {}


def _promoted_key() -> tuple[int, Any] | None:
    row = db.session.execute(
        select(SectorModelVersion.id, SectorModelVersion.promoted_at).where(
            SectorModelVersion.status == ModelStatus.PROMOTED,
            SectorModelVersion.kind == ModelKind.SECTORS,
        )
    ).first()
    return None if row is None else (row.id, row.promoted_at)


def get_promoted_model(*, fresh: bool = False) -> SectorModel | None:
    """The promoted sector model, deserialized once per process per version; which one is
    promoted is re-read at most every few seconds (``fresh`` reads it now)."""
    key = _promoted_key() if fresh else cached("promoted_model", _promoted_key)
    if key is None:
        return None
    hit = _model_cache.get("promoted")
    if hit is not None and hit[0] == key:
        return hit[1]
    data = db.session.scalar(
        select(SectorModelVersion.artifact).where(SectorModelVersion.id == key[0])
    )
    model = SectorModel.from_bytes(data)
    _model_cache["promoted"] = (key, model)
    return model


def _assigned(text: str, taxonomy: Taxonomy, model: SectorModel | None) -> frozenset[str]:
    result = triage(text, taxonomy=taxonomy, model=model, language_hint="en")
    return frozenset(s.slug for s in result.assigned_sectors)


def score_in_use(
    model: SectorModel | None, examples: list[tuple[str, frozenset[str]]], taxonomy: Taxonomy
) -> Scores:
    """F1 of triage's sector decisions with ``model`` (None: lexicons only) on ``examples``."""
    predicted = [_assigned(text, taxonomy, model) for text, _ in examples]
    return _f1_scores(
        [labels for _, labels in examples], predicted, taxonomy.label_slugs, taxonomy.core_labels
    )


@dataclass(frozen=True)
class TrainOutcome:
    version: SectorModelVersion | None
    promoted: bool
    reason: str
    score: float | None = None
    baseline: float | None = None


def count_examples() -> int:
    return db.session.scalar(select(func.count()).select_from(TrainingExample)) or 0


def train_and_maybe_promote(
    taxonomy: Taxonomy, *, min_examples: int = MIN_TRAINING_EXAMPLES, force: bool = False
) -> TrainOutcome:
    """Train a candidate on the non-held-back corrections, score it and the model in use on
    the held-back ones, and promote the candidate only if it is better. Flushes, never commits.

    Without ``force``, nothing is trained when no correction arrived since the last model.
    """
    examples = list(db.session.scalars(select(TrainingExample).order_by(TrainingExample.id)))
    train = [(e.text, frozenset(e.sectors)) for e in examples if not e.holdout]
    held = [(e.text, frozenset(e.sectors)) for e in examples if e.holdout]
    if len(train) < min_examples or not held:
        return TrainOutcome(
            None, False, f"not enough corrections ({len(train)} to train, {len(held)} held back)"
        )
    last = db.session.scalars(
        select(SectorModelVersion)
        .where(SectorModelVersion.kind == ModelKind.SECTORS)
        .order_by(SectorModelVersion.id.desc())
        .limit(1)
    ).first()
    if not force and last is not None and last.trained_on + last.evaluated_on == len(examples):
        return TrainOutcome(None, False, "no new corrections since the last model")

    candidate = SectorModelVersion(
        algorithm=ALGORITHM,
        taxonomy_version=taxonomy.version,
        trained_on=len(train),
        evaluated_on=len(held),
        artifact=b"",
    )
    db.session.add(candidate)
    db.session.flush()
    try:
        model = train_sector_model(train, taxonomy=taxonomy, version=str(candidate.id))
    except ValueError as exc:
        candidate.status = ModelStatus.REJECTED
        candidate.metrics = {"error": str(exc)}
        db.session.flush()
        return TrainOutcome(candidate, False, f"training failed: {exc}")
    candidate.artifact = model.to_bytes()

    current_row = db.session.scalars(
        select(SectorModelVersion).where(
            SectorModelVersion.status == ModelStatus.PROMOTED,
            SectorModelVersion.kind == ModelKind.SECTORS,
        )
    ).first()
    current_model = get_promoted_model(fresh=True) if current_row is not None else None
    new_scores = score_in_use(model, held, taxonomy)
    old_scores = score_in_use(current_model, held, taxonomy)
    candidate.score = new_scores.primary
    candidate.baseline_score = old_scores.primary
    candidate.metrics = {
        "candidate": _scores_json(new_scores),
        "in_use": _scores_json(old_scores),
        "in_use_version": current_row.version if current_row else "lexicon",
    }
    promote = should_promote(new_scores, old_scores)
    settle(candidate, promote=promote)
    logger.info(
        "sector model %s %s: %.3f vs %.3f in use",
        candidate.id,
        "promoted" if promote else "rejected",
        new_scores.primary,
        old_scores.primary,
    )
    reason = "better than the model in use" if promote else "not better than the model in use"
    return TrainOutcome(candidate, promote, reason, new_scores.primary, old_scores.primary)


def settle(candidate: SectorModelVersion, *, promote: bool) -> None:
    """Promote the candidate in place of the model of its kind in use, or reject it."""
    if promote:
        for row in db.session.scalars(
            select(SectorModelVersion).where(
                SectorModelVersion.status == ModelStatus.PROMOTED,
                SectorModelVersion.kind == candidate.kind,
                SectorModelVersion.id != candidate.id,
            )
        ):
            row.status = ModelStatus.RETIRED
        db.session.flush()  # one promoted model of each kind (unique partial index)
        candidate.status = ModelStatus.PROMOTED
        candidate.promoted_at = utcnow()
        invalidate_caches()
    else:
        candidate.status = ModelStatus.REJECTED
    db.session.flush()


def _scores_json(scores: Scores) -> dict[str, Any]:
    return {
        "primary": scores.primary,
        "macro_f1": scores.macro_f1,
        "core_macro_f1": scores.core_macro_f1,
        "micro_f1": scores.micro_f1,
        "n": scores.n,
        "per_label": scores.per_label,
    }
