"""End to end: signed webhook -> RQ worker -> triage -> case routed to a team, acknowledged."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import (
    AuditEntry,
    CaseEvent,
    CaseStatus,
    Contact,
    LanguageSource,
    MessageKind,
    MessageStatus,
    OperationSector,
    Team,
)
from mcof_comms.setup import seed_defaults
from tests.cases.helpers import all_cases, inbound, replies_to, run_inbound, send, system_replies


@pytest.fixture
def seeded(app_ctx):
    seed_defaults()
    db.session.commit()
    return app_ctx


def team_slug(team_id: int | None) -> str | None:
    return db.session.get(Team, team_id).slug if team_id else None


@pytest.mark.parametrize(
    ("body", "sender", "language", "team"),
    [
        ("Nou bezwen tant ak prela, kay nou kraze nèt", "+50937001111", "ht", "shelter_nfi"),
        ("Mon enfant est malade, il faut un médecin", "+50937002222", "fr", "health"),
        ("Necesitamos medicinas para mi madre enferma", "+50937003333", "es", "health"),
        ("The road to the camp is blocked, we need transport", "+50937004444", "en", "transport"),
    ],
)
def test_message_becomes_a_case_for_the_sector_team_in_its_language(
    seeded, twilio_post, body, sender, language, team
):
    send(twilio_post, body, sender)
    run_inbound(seeded)

    db.session.expire_all()
    message = inbound(body)
    assert message.status is MessageStatus.PROCESSED
    assert message.language == language
    assert message.sectors[0]["slug"] == team
    assert message.triage["taxonomy_version"]
    # the shipped-corpus model or the lexicons, and which one is recorded
    assert message.triage["sectors"][0]["source"].startswith(("model:corpus-", "lexicon:"))
    assert message.triage["signals_version"]
    (case,) = all_cases()
    assert message.case_id == case.id
    assert team_slug(case.team_id) == team
    assert case.sector == team
    assert case.status is CaseStatus.NEW
    assert case.due_at is not None
    assert case.due_at > case.created_at
    contact = db.session.get(Contact, message.contact_id)
    assert contact.language == language
    assert contact.language_source is LanguageSource.DETECTED
    (ack,) = replies_to(message)
    assert ack.status is MessageStatus.QUEUED
    assert ack.kind is MessageKind.SYSTEM
    assert case.reference in ack.body
    assert ack.case_id == case.id


def test_acknowledgement_is_localized_with_reference_and_due_time(seeded, twilio_post):
    # not urgent: a sick child may be life-threatening, and then the reply is guidance
    send(twilio_post, "Où est la clinique la plus proche ?")
    run_inbound(seeded)

    (case,) = all_cases()
    (ack,) = system_replies(case.contact_id)
    assert "Merci" in ack.body
    assert case.reference in ack.body
    assert "We will" not in ack.body


def test_same_contact_same_sector_joins_the_open_case(seeded, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    send(twilio_post, "Il a encore de la fièvre, on a besoin de médicaments")
    send(twilio_post, "Nous avons aussi besoin de tentes et de bâches")
    run_inbound(seeded)

    cases = all_cases()
    assert [c.sector for c in cases] == ["health", "shelter_nfi"]
    health = cases[0]
    assert inbound("Il a encore de la fièvre, on a besoin de médicaments").case_id == health.id
    # one acknowledgement per case, not per message
    assert len(system_replies(health.contact_id)) == 2


def test_another_contact_on_the_same_sector_gets_its_own_case(seeded, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin", "+50937001111")
    send(twilio_post, "Mon enfant est malade, il faut un médecin!", "+50937002222")
    run_inbound(seeded)
    cases = all_cases()
    assert len(cases) == 2
    assert len({c.reference for c in cases}) == 2


def test_closed_case_is_not_joined(seeded, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    (case,) = all_cases()
    case.status = CaseStatus.CLOSED
    db.session.commit()
    send(twilio_post, "Il a encore de la fièvre, on a besoin de médicaments")
    run_inbound(seeded)
    assert len(all_cases()) == 2


def test_referral_category_goes_to_the_referral_desk_with_partner(seeded, twilio_post):
    send(twilio_post, "نحتاج طعام لعائلتنا، لا يوجد أكل")
    run_inbound(seeded)

    (case,) = all_cases()
    assert case.sector == "food"
    assert team_slug(case.team_id) == "referral"
    assert case.referral_partner == "Food Security cluster / WFP"
    (ack,) = system_replies(case.contact_id)
    assert case.reference in ack.body
    assert "Thank you" not in ack.body  # Arabic


def test_inactive_sector_goes_to_referral_with_partner_named(seeded, twilio_post):
    row = db.session.scalars(
        select(OperationSector).where(OperationSector.slug == "transport")
    ).one()
    row.active = False
    db.session.commit()
    send(twilio_post, "The road to the camp is blocked, we need transport")
    run_inbound(seeded)

    (case,) = all_cases()
    assert case.sector == "transport"
    assert team_slug(case.team_id) == "referral"
    assert case.referral_partner == "Transport assistance partners"
    message = inbound("The road to the camp is blocked, we need transport")
    assert message.triage["inactive_sectors"] == ["transport"]


def test_sensitive_report_is_quarantined_with_a_safe_reply(seeded, twilio_post, caplog):
    body = "He said I get my card faster if I come to his tent at night"
    with caplog.at_level(logging.INFO):
        send(twilio_post, body)
        run_inbound(seeded)

    message = inbound(body)
    assert message.sensitive_category == "sexual_exploitation_abuse"
    (case,) = all_cases()
    assert case.sensitive_category == "sexual_exploitation_abuse"
    assert team_slug(case.team_id) == "protection"
    assert case.alerted_at is not None
    (reply,) = replies_to(message)
    for word in ("card", "tent", "night", "faster", "abuse", "sexual"):
        assert word not in reply.body.lower()
    assert case.reference in reply.body
    assert body not in caplog.text
    assert "card" not in caplog.text


def test_sensitive_message_does_not_join_a_visible_case(seeded, twilio_post):
    send(twilio_post, "We need tents, our house collapsed")
    run_inbound(seeded)
    send(twilio_post, "He said I get my card faster if I come to his tent at night")
    run_inbound(seeded)

    visible, quarantined = all_cases()
    assert visible.sensitive_category is None
    assert team_slug(visible.team_id) == "shelter_nfi"
    assert quarantined.sensitive_category == "sexual_exploitation_abuse"
    assert team_slug(quarantined.team_id) == "protection"


def test_life_threatening_raises_an_alert_logged_with_ids_only(seeded, twilio_post, caplog):
    body = "My father is under the rubble and bleeding, please help"
    with caplog.at_level(logging.WARNING):
        send(twilio_post, body)
        run_inbound(seeded)

    (case,) = all_cases()
    assert case.urgency.value == "life_threatening"
    assert case.urgency_rank == 0
    assert case.alerted_at is not None
    alert = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "alert")
    ).one()
    assert alert.detail["reasons"] == ["life_threatening"]
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "alert")).one()
    assert audit.object_id == case.id
    assert f"ALERT case {case.id}" in caplog.text
    assert "rubble" not in caplog.text
    assert "37001234" not in caplog.text
    (reply,) = system_replies(case.contact_id)
    assert "emergency" in reply.body
    assert case.reference in reply.body


def test_acknowledgement_at_most_once_per_case_within_the_window(seeded, twilio_post):
    for n in range(4):
        send(twilio_post, f"Mon enfant est malade, il faut un médecin ({n})")
    run_inbound(seeded)
    (case,) = all_cases()
    assert len(system_replies(case.contact_id)) == 1


def test_acknowledged_again_after_the_window(seeded, twilio_post):
    from mcof_comms.models import Operation

    operation = db.session.scalars(select(Operation)).one()
    operation.settings = {"ack_window_minutes": 0}
    db.session.commit()
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    send(twilio_post, "Il a encore de la fièvre, on a besoin de médicaments")
    run_inbound(seeded)
    (case,) = all_cases()
    assert len(system_replies(case.contact_id)) == 2


def test_lang_keyword_sets_chosen_language_without_a_case(seeded, twilio_post):
    send(twilio_post, "LANG fr")
    run_inbound(seeded)

    message = inbound("LANG fr")
    assert message.kind is MessageKind.LANGUAGE
    assert message.status is MessageStatus.PROCESSED
    assert message.case_id is None
    assert all_cases() == []
    contact = db.session.get(Contact, message.contact_id)
    assert contact.language == "fr"
    assert contact.language_source is LanguageSource.CHOSEN
    (confirmation,) = replies_to(message)
    assert confirmation.body == "Nous vous écrirons désormais dans cette langue."

    # a later message in another language keeps the chosen language and is answered in it
    send(twilio_post, "We need tents, our house collapsed")
    run_inbound(seeded)
    db.session.expire_all()
    assert contact.language == "fr"
    assert contact.language_source is LanguageSource.CHOSEN
    (case,) = all_cases()
    ack = system_replies(contact.id)[-1]
    assert ack.case_id == case.id
    assert "Merci" in ack.body


def test_redelivered_job_changes_nothing(seeded, twilio_post):
    from mcof_comms.inbound.jobs import process_inbound_message

    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    message = inbound("Mon enfant est malade, il faut un médecin")
    process_inbound_message(message.id)
    assert len(all_cases()) == 1
    assert len(system_replies(message.contact_id)) == 1


def test_opted_out_contact_gets_no_acknowledgement(seeded, twilio_post):
    send(twilio_post, "STOP")
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(seeded)
    (case,) = all_cases()
    assert case.acknowledged_at is None
    assert [m.body for m in system_replies(case.contact_id) if m.case_id] == []


def test_pipeline_works_on_a_fresh_database_without_seeding(app_ctx, twilio_post):
    send(twilio_post, "Mon enfant est malade, il faut un médecin")
    run_inbound(app_ctx)
    (case,) = all_cases()
    assert team_slug(case.team_id) == "health"
