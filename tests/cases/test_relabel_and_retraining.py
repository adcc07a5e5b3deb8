"""Corrections become training data; a retrained model is promoted only when it beats the one
in use on held-back corrections; retraining runs periodically as an RQ job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from mcof_comms.auth.users import create_user
from mcof_comms.cases.services import relabel_case
from mcof_comms.extensions import db
from mcof_comms.jobs import MAINTENANCE, AppWorker, enqueue, get_backend
from mcof_comms.models import (
    AuditEntry,
    CaseEvent,
    FeedbackType,
    ModelStatus,
    Role,
    SectorModelVersion,
    Team,
    TrainingExample,
    Urgency,
)
from mcof_comms.operations.services import get_taxonomy
from mcof_comms.pipeline.jobs import schedule_retraining
from mcof_comms.pipeline.training import get_promoted_model, train_and_maybe_promote
from mcof_comms.setup import seed_defaults
from tests.cases.helpers import all_cases, inbound, run_inbound, send


@pytest.fixture
def seeded(app_ctx):
    seed_defaults()
    db.session.commit()
    return app_ctx


def coordinator():
    user = create_user("coord@example.org", "a-long-password-123", Role.COORDINATOR)
    db.session.flush()
    return user


def test_relabel_reroutes_records_why_and_stores_training_examples(seeded, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    send(twilio_post, "Il a encore de la fièvre, on a besoin de médicaments")
    run_inbound(seeded)
    (case,) = all_cases()
    actor = coordinator()

    relabel_case(
        case,
        actor,
        sector="psychosocial",
        feedback_type=FeedbackType.COMPLAINT,
        urgency=Urgency.URGENT,
    )
    db.session.commit()

    assert case.sector == "psychosocial"
    assert db.session.get(Team, case.team_id).slug == "psychosocial"
    assert case.urgency_rank == 1
    assert not case.needs_review
    examples = db.session.scalars(select(TrainingExample).order_by(TrainingExample.id)).all()
    assert len(examples) == 2
    assert {e.message_id for e in examples} == {
        inbound("Mon enfant est malade, il faut un médecin").id,
        inbound("Il a encore de la fièvre, on a besoin de médicaments").id,
    }
    assert all(e.sectors == ["psychosocial"] for e in examples)
    assert all(e.feedback_type == "complaint" and e.actor_id == actor.id for e in examples)
    event = db.session.scalars(select(CaseEvent).where(CaseEvent.kind == "relabel")).one()
    assert event.detail["before"]["sector"] == "health"
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "relabel")).one()

    relabel_case(case, actor, sector="health")  # a second correction replaces the first
    db.session.commit()
    assert [e.sectors for e in db.session.scalars(select(TrainingExample))] == [["health"]] * 2


def test_relabel_to_an_unknown_sector_is_refused(seeded, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    (case,) = all_cases()
    with pytest.raises(ValueError, match="unknown sector"):
        relabel_case(case, coordinator(), sector="astrology")


# Invented words the lexicons cannot know: only a model trained on corrections can learn them.
HEALTH_WORDS = ["glimmerix", "vostapol", "krendal"]
FOOD_WORDS = ["brakkamo", "zuvolin", "pertaq"]


def corpus(n: int, *, swapped: bool = False, holdout: bool = False, offset: int = 0):
    rows = []
    for i in range(n):
        health = i % 2 == 0
        words = HEALTH_WORDS if health else FOOD_WORDS
        label = "health" if health != swapped else "food"
        text = f"{words[i % 3]} {words[(i + 1) % 3]} block {i + offset}"
        rows.append(TrainingExample(text=text, sectors=[label], holdout=holdout))
    return rows


def test_train_promotes_only_a_model_better_than_the_one_in_use(seeded):
    db.session.add_all(corpus(30) + corpus(12, holdout=True, offset=100))
    db.session.commit()
    taxonomy = get_taxonomy()

    first = train_and_maybe_promote(taxonomy)
    db.session.commit()
    assert first.promoted
    assert first.baseline == 0.0  # the lexicons know none of these words
    assert first.score > 0.9
    assert get_promoted_model() is not None

    again = train_and_maybe_promote(taxonomy)
    assert again.version is None
    assert "no new corrections" in again.reason

    # wrong corrections outnumber the right ones: the candidate gets worse and is not promoted
    db.session.add_all(corpus(80, swapped=True, offset=200))
    db.session.commit()
    second = train_and_maybe_promote(taxonomy)
    db.session.commit()
    assert not second.promoted
    assert second.score < second.baseline
    statuses = dict(
        db.session.execute(select(SectorModelVersion.id, SectorModelVersion.status)).all()
    )
    assert statuses == {
        first.version.id: ModelStatus.PROMOTED,
        second.version.id: ModelStatus.REJECTED,
    }


def test_promoted_model_is_used_by_triage_and_recorded_as_the_reason(seeded, twilio_post):
    db.session.add_all(corpus(30) + corpus(12, holdout=True, offset=100))
    db.session.commit()
    result = train_and_maybe_promote(get_taxonomy())
    db.session.commit()
    assert result.promoted

    send(twilio_post, "vostapol krendal at block 7")
    run_inbound(seeded)
    message = inbound("vostapol krendal at block 7")
    assert message.sectors[0]["slug"] == "health"
    assert message.sectors[0]["source"] == f"model:{result.version.id}"
    assert message.triage["model_version"] == str(result.version.id)
    (case,) = all_cases()
    assert db.session.get(Team, case.team_id).slug == "health"


def test_train_command_reports_what_it_did(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["train"])
    assert result.exit_code == 0, result.output
    assert "no model trained: not enough corrections" in result.output
    with app.app_context():
        db.session.add_all(corpus(30) + corpus(12, holdout=True, offset=100))
        db.session.commit()
    result = runner.invoke(args=["train", "--schedule"])
    assert result.exit_code == 0, result.output
    assert "sector-model-1 promoted" in result.output
    assert "retraining scheduled" in result.output


def test_retraining_job_runs_in_a_worker_and_schedules_its_next_run(seeded):
    backend = get_backend()
    queue = backend.queue(MAINTENANCE)
    registry = ScheduledJobRegistry(queue=queue)
    db.session.add_all(corpus(30) + corpus(12, holdout=True, offset=100))
    db.session.commit()

    enqueue(MAINTENANCE, "mcof_comms.pipeline.jobs.retrain_sector_model", job_id="retrain-now")
    AppWorker([queue], app=seeded, connection=backend.connection).work(
        burst=True, logging_level="WARNING"
    )

    db.session.expire_all()
    assert get_promoted_model() is not None
    (next_run,) = registry.get_job_ids()  # it scheduled its next run
    assert schedule_retraining() == next_run  # scheduling again adds nothing
    assert registry.get_job_ids() == [next_run]
    assert schedule_retraining(interval=timedelta(minutes=1)) != next_run
    assert len(registry.get_job_ids()) == 2
