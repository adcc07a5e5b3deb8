"""The safety model learns from coordinators' and protection decisions: a candidate trained on
the shipped messages plus corrections replaces the model in use only when it is not worse on
safeguarding recall and better on the primary figure, on held-back corrections."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import ModelKind, ModelStatus, SectorModelVersion, TrainingExample
from mcof_comms.operations.services import get_taxonomy
from mcof_comms.pipeline.signal_training import (
    SignalScores,
    base_signal_model,
    get_signal_model,
    should_promote_signals,
    train_signals_and_maybe_promote,
)
from mcof_comms.pipeline.triage import triage
from mcof_comms.setup import seed_defaults

# A code word the shipped messages never use, as a new euphemism in one camp would be.
CODED = [
    "the guard says kwaznik to the girls at the gate {n}",
    "my neighbour told me about kwaznik again, near block {n}",
    "they do kwaznik with the young ones behind tent {n}",
    "kwaznik happened to my friend last night at point {n}",
]
ORDINARY = [
    "when is the next distribution at site {n}",
    "the water pump at block {n} is broken",
    "we need blankets for {n} children",
    "thank you for the food at point {n}",
]


def _examples(holdout: bool, count: int) -> list[TrainingExample]:
    rows = []
    for n in range(count):
        coded = CODED[n % len(CODED)].format(n=n + (100 if holdout else 0))
        plain = ORDINARY[n % len(ORDINARY)].format(n=n + (100 if holdout else 0))
        rows.append(
            TrainingExample(
                text=coded,
                sectors=["protection_trafficking"],
                feedback_type="other",
                urgency="urgent",
                sensitive="sexual_exploitation_abuse",
                holdout=holdout,
            )
        )
        rows.append(
            TrainingExample(
                text=plain,
                sectors=[],
                feedback_type="request",
                urgency="normal",
                sensitive="none",
                holdout=holdout,
            )
        )
    return rows


@pytest.fixture
def seeded(app_ctx):
    seed_defaults()
    db.session.commit()
    return app_ctx


def test_a_new_euphemism_is_learnt_and_the_better_model_promoted(seeded):
    taxonomy = get_taxonomy()
    db.session.add_all(_examples(False, 24) + _examples(True, 8))
    db.session.commit()
    probe = "people say kwaznik at the water point, it is my cousin"

    outcome = train_signals_and_maybe_promote(taxonomy)
    db.session.commit()

    assert outcome.version is not None
    assert outcome.version.kind is ModelKind.SIGNALS
    assert outcome.promoted, outcome.reason
    assert outcome.score > outcome.baseline
    assert outcome.version.metrics["candidate"]["safeguarding_recall"] >= (
        outcome.version.metrics["in_use"].get("safeguarding_recall", 0)
    )
    in_use = get_signal_model(taxonomy, fresh=True)
    assert in_use.version != base_signal_model(taxonomy).version
    assert triage(probe, taxonomy=taxonomy, signals=in_use).sensitivity is not None
    # the sector model's slot is untouched: one promoted model of each kind
    promoted = db.session.scalars(
        select(SectorModelVersion.kind).where(SectorModelVersion.status == ModelStatus.PROMOTED)
    ).all()
    assert promoted == [ModelKind.SIGNALS]

    again = train_signals_and_maybe_promote(taxonomy)
    assert again.version is None
    assert "no new corrections" in again.reason


def test_too_few_corrections_train_nothing(seeded):
    db.session.add_all(_examples(False, 3) + _examples(True, 1))
    db.session.commit()
    outcome = train_signals_and_maybe_promote(get_taxonomy())
    assert outcome.version is None
    assert "not enough corrections" in outcome.reason
    assert get_signal_model(get_taxonomy(), fresh=True) is base_signal_model(get_taxonomy())


def test_a_candidate_that_misses_more_reports_is_never_promoted():
    current = SignalScores(0.9, 0.70, 40, {})
    assert not should_promote_signals(SignalScores(0.85, 0.90, 40, {}), current)
    assert should_promote_signals(SignalScores(0.9, 0.71, 40, {}), current)
    assert not should_promote_signals(SignalScores(0.95, 0.70, 40, {}), current)
    with pytest.raises(ValueError, match="different example sets"):
        should_promote_signals(SignalScores(0.9, 0.8, 39, {}), current)
