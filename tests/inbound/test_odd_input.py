"""Signed posts with odd but possible content: stored, never a 5xx; and senders that cannot be
answered (alphanumeric ids, short codes) are stored and never answered."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mcof_comms.channels.base import FailureReason
from mcof_comms.extensions import db
from mcof_comms.models import Contact, Direction, Message, MessageStatus
from tests.conftest import inbound_params
from tests.outbound.conftest import drain_queues

PATH = "/webhooks/twilio/messages"


def inbound() -> Message:
    return db.session.scalars(select(Message).where(Message.direction == Direction.IN)).one()


@pytest.mark.parametrize(
    "field", ["Body", "To", "From", "ProfileName", "MediaContentType0", "MessagingServiceSid"]
)
def test_a_nul_byte_in_any_field_is_replaced_and_the_message_kept(app_ctx, twilio_post, field):
    params = inbound_params(
        "water\x00point",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        ProfileName="Marie",
        MessagingServiceSid="MG" + "a" * 32,
    )
    params[field] = params[field][:3] + "\x00" + params[field][3:]
    response = twilio_post(PATH, params)

    assert response.status_code == 200
    message = inbound()
    stored = [message.body, message.to_address, message.from_address, message.contact.name]
    stored += [message.media[0]["content_type"], message.messaging_service_sid]
    assert all("\x00" not in (value or "") for value in stored)
    assert "\ufffd" in message.body


def test_control_characters_and_odd_keys_are_stored(app_ctx, twilio_post):
    params = inbound_params("bell\x07 esc\x1b \ud7ff end", **{"Odd\x00Key": "x", "": "y"})
    assert twilio_post(PATH, params).status_code == 200
    assert inbound().body == "bell\x07 esc\x1b \ud7ff end"


@pytest.mark.parametrize(
    ("sender", "address"),
    [("MTN-INFO", "MTN-INFO"), ("72345", "72345"), ("UNICEF", "UNICEF"), ("Vodacom", "Vodacom")],
)
def test_alphanumeric_senders_and_short_codes_are_stored(app_ctx, twilio_post, sender, address):
    response = twilio_post(PATH, inbound_params("Your balance is 10.", sender=sender))

    assert response.status_code == 200
    message = inbound()
    assert message.from_address == address
    assert not message.needs_review  # a real sender, read as it is
    contact = db.session.scalars(select(Contact)).one()
    assert contact.phone is None
    assert [c.address for c in contact.channels] == [address]


def test_a_short_code_writing_stop_gets_no_confirmation(app_ctx, twilio_post):
    response = twilio_post(PATH, inbound_params("STOP", sender="72345"))
    assert response.status_code == 200
    assert "<Message>" not in response.get_data(as_text=True)


def test_nothing_is_ever_sent_to_a_sender_that_cannot_receive(app, twilio_post):
    from mcof_comms.models import MessageKind
    from mcof_comms.outbound.services import enqueue_outbound, queue_outbound

    with app.app_context():
        twilio_post(PATH, inbound_params("Network maintenance tonight", sender="MTN-INFO"))
        contact = db.session.scalars(select(Contact)).one()
        reply_id = queue_outbound(contact, "Thank you", kind=MessageKind.REPLY).id
        db.session.commit()
        enqueue_outbound([reply_id])
        drain_queues(app)
        outbound = db.session.scalars(
            select(Message).where(Message.direction == Direction.OUT)
        ).all()
        assert reply_id in {m.id for m in outbound}  # and any acknowledgement triage queued
        for message in outbound:
            assert message.status is MessageStatus.SKIPPED
            assert message.failure_reason == FailureReason.NO_REPLY_PATH.value
            assert message.external_id is None  # never handed to the provider
