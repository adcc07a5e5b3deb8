"""Opt-out, opt-in and help keywords, in many languages, and their near misses."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.inbound.keywords import KeywordBook, KeywordKind, normalize
from mcof_comms.models import (
    Channel,
    Contact,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from tests.conftest import inbound_params

PATH = "/webhooks/twilio/messages"


@pytest.fixture
def book() -> KeywordBook:
    from config import CONFIG_DIR

    return KeywordBook.from_file(CONFIG_DIR / "keywords.yaml")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("STOP", "en"),
        ("Arrêt", "fr"),
        ("ARRET!", "fr"),
        ("parar", "es"),
        ("BAJA.", "es"),
        ("توقف", "ar"),
        ("СТОП", "uk"),
        ("simama", "sw"),
        ("Kanpe", "ht"),
        ("  sair ", "pt"),
        ("stop all", "en"),
        ("jooji", "so"),
    ],
)
def test_opt_out_words_in_many_languages(book, text, language):
    match = book.match(text)
    assert match is not None
    assert match.kind is KeywordKind.OPT_OUT
    assert match.language == language


@pytest.mark.parametrize(
    "text",
    [
        "When will the fighting stop?",
        "stop the violence",
        "please don't stop the food distribution",
        "arrêt de bus détruit",
        "STOPP",
        "توقف القتال متى؟",
        "",
        "stop " * 20,
    ],
)
def test_near_misses_are_not_keywords(book, text):
    assert book.match(text) is None


def test_opt_in_and_service_keywords(book):
    assert book.match("START").kind is KeywordKind.OPT_IN
    assert book.match("Démarrer").kind is KeywordKind.OPT_IN
    assert book.match("INFO").kind is KeywordKind.HELP
    assert book.match("معلومات").kind is KeywordKind.HELP


PLEAS = ["help", "HELP!", "aidez moi", "Aidez-moi", "aide", "ayuda", "msaada", "مساعدة", "ed"]


@pytest.mark.parametrize("text", PLEAS)
def test_a_plea_for_help_is_not_a_keyword(book, text):
    assert book.match(text) is None


@pytest.mark.parametrize("text", ["help", "aidez moi", "msaada"])
def test_a_plea_for_help_reaches_a_person(app_ctx, twilio_post, run_jobs, text):
    response = twilio_post(PATH, inbound_params(text))
    assert "<Message>" not in response.get_data(as_text=True)
    message = db.session.scalars(select(Message)).one()
    assert message.kind is MessageKind.FEEDBACK
    assert message.status is MessageStatus.RECEIVED

    run_jobs()
    db.session.refresh(message)
    assert message.status is MessageStatus.PROCESSED
    assert message.case_id is not None  # in a team's queue, for a person to answer


def test_twilio_answering_help_still_leaves_feedback(app_ctx, twilio_post):
    params = inbound_params("HELP", OptOutType="HELP", MessagingServiceSid="MG" + "c" * 32)
    response = twilio_post(PATH, params)
    assert "<Message>" not in response.get_data(as_text=True)
    message = db.session.scalars(select(Message)).one()
    assert message.kind is MessageKind.FEEDBACK
    assert message.status is MessageStatus.RECEIVED


def test_normalize_keeps_cyrillic_letters_whole():
    assert normalize("Відписатися!") == "відписатися"
    assert normalize("й") == "й"


def test_opt_out_changes_consent_and_confirms_once_in_language(app_ctx, twilio_post, run_jobs):
    params = inbound_params("ARRÊT", sender="whatsapp:+50937005555")
    first = twilio_post(PATH, params)
    second = twilio_post(PATH, params)  # Twilio delivers it again

    assert "<Message>" in first.get_data(as_text=True)
    assert "Vous ne recevrez plus de messages" in first.get_data(as_text=True)
    assert "<Message>" not in second.get_data(as_text=True)
    contact = db.session.scalars(select(Contact)).one()
    assert contact.is_opted_out(Channel.WHATSAPP)
    assert not contact.is_opted_out(Channel.SMS)
    inbound = db.session.scalars(select(Message).where(Message.direction == Direction.IN)).one()
    assert inbound.kind is MessageKind.OPT_OUT
    assert inbound.status is MessageStatus.PROCESSED  # handled in the webhook, never received
    confirmations = db.session.scalars(
        select(Message).where(Message.direction == Direction.OUT)
    ).all()
    assert len(confirmations) == 1
    assert confirmations[0].reply_to_id == inbound.id
    assert confirmations[0].kind is MessageKind.SYSTEM

    from mcof_comms.jobs import INBOUND, get_backend

    assert get_backend().queue(INBOUND).count == 0  # never enters the feedback pipeline


def test_opt_in_after_opt_out_restores_consent(app_ctx, twilio_post):
    twilio_post(PATH, inbound_params("stop"))
    twilio_post(PATH, inbound_params("start"))
    contact = db.session.scalars(select(Contact)).one()
    assert not contact.is_opted_out(Channel.SMS)


def test_feedback_mentioning_stop_is_feedback(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params("When will the fighting stop?"))
    assert "<Message>" not in response.get_data(as_text=True)
    message = db.session.scalars(select(Message)).one()
    assert message.kind is MessageKind.FEEDBACK
    assert message.status is MessageStatus.RECEIVED
    assert not message.contact.is_opted_out(Channel.SMS)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("توقف", "لن تتلقى المزيد من الرسائل"),
        ("СТОП", "Ви більше не отримуватимете"),
        ("simama", "Hutapokea tena ujumbe"),
        ("BAJA", "No recibirá más mensajes"),
    ],
)
def test_confirmation_is_written_in_the_keyword_language(app_ctx, twilio_post, word, expected):
    response = twilio_post(PATH, inbound_params(word))
    assert expected in response.get_data(as_text=True)


def test_info_answers_without_changing_consent(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params("INFO"))
    assert "This is the community feedback line" in response.get_data(as_text=True)
    contact = db.session.scalars(select(Contact)).one()
    assert not contact.is_opted_out(Channel.SMS)


def test_advanced_opt_out_is_recorded_without_a_second_answer(app_ctx, twilio_post):
    # Twilio matched a custom keyword of the Messaging Service and already replied
    params = inbound_params("NON MERCI", OptOutType="STOP", MessagingServiceSid="MG" + "c" * 32)
    response = twilio_post(PATH, params)
    assert "<Message>" not in response.get_data(as_text=True)
    contact = db.session.scalars(select(Contact)).one()
    assert contact.is_opted_out(Channel.SMS)
    message = db.session.scalars(select(Message)).one()
    assert message.kind is MessageKind.OPT_OUT
    assert message.status is MessageStatus.PROCESSED


def test_stop_withdraws_what_still_waits_to_be_sent(app_ctx, twilio_post):
    from tests.factories import make_outbound

    twilio_post(PATH, inbound_params("Hello", sender="whatsapp:+50937006666"))
    contact = db.session.scalars(select(Contact)).one()
    waiting = make_outbound(contact.id, status=MessageStatus.QUEUED, channel=Channel.WHATSAPP)
    twilio_post(PATH, inbound_params("STOP", sender="whatsapp:+50937006666"))
    db.session.expire_all()
    assert waiting.status is MessageStatus.SKIPPED
    assert waiting.failure_reason == "opted_out"
