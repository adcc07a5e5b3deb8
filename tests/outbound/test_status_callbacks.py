"""Status callbacks: signed, monotonic, sticky errors, 21610 opts out."""

from __future__ import annotations

from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import Channel, MessageEvent, MessageStatus
from tests.conftest import ACCOUNT_SID, new_sid
from tests.factories import make_inbound, make_outbound

PATH = "/webhooks/twilio/status"


def callback(message, status: str, sid: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+50937001234",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post(twilio_post, message, status, sid, **extra):
    return twilio_post(f"{PATH}?message_id={message.id}", callback(message, status, sid, **extra))


def test_statuses_never_move_backward(app_ctx, twilio_post):
    contact = make_inbound().contact
    sid = new_sid()
    message = make_outbound(contact.id, external_id=sid)

    for status in ["sent", "delivered", "sent", "queued", "delivered"]:
        assert post(twilio_post, message, status, sid).status_code == 200
    db.session.expire_all()
    assert message.status is MessageStatus.DELIVERED
    events = db.session.scalars(select(MessageEvent).order_by(MessageEvent.id)).all()
    assert [e.applied for e in events] == [True, True, False, False, False]

    post(twilio_post, message, "read", sid)
    db.session.expire_all()
    assert message.status is MessageStatus.READ


def test_out_of_order_failed_keeps_error_code(app_ctx, twilio_post):
    contact = make_inbound().contact
    sid = new_sid()
    message = make_outbound(contact.id, external_id=sid)

    post(twilio_post, message, "undelivered", sid, ErrorCode="30003")
    post(twilio_post, message, "sent", sid)
    db.session.expire_all()
    assert message.status is MessageStatus.UNDELIVERED
    assert message.error_code == 30003
    assert message.failure_reason == "unreachable"


def test_21610_opts_the_contact_out_on_that_channel(app_ctx, twilio_post):
    contact = make_inbound(sender="+50937002222").contact
    make_inbound(sender="whatsapp:+50937002222")
    sid = new_sid()
    message = make_outbound(contact.id, external_id=sid, channel=Channel.SMS)

    post(twilio_post, message, "failed", sid, ErrorCode="21610")
    db.session.expire_all()
    assert contact.is_opted_out(Channel.SMS)
    assert not contact.is_opted_out(Channel.WHATSAPP)
    assert contact.channel(Channel.SMS).opt_out_source == "21610"


def test_callback_fills_in_a_sid_a_crash_kept_us_from_recording(app_ctx, twilio_post):
    contact = make_inbound().contact
    message = make_outbound(contact.id, status=MessageStatus.SENDING)
    sid = new_sid()

    post(twilio_post, message, "sent", sid)
    db.session.expire_all()
    assert message.external_id == sid
    assert message.status is MessageStatus.SENT


def test_callback_for_another_sid_of_our_message_is_ignored(app_ctx, twilio_post):
    contact = make_inbound().contact
    sid = new_sid()
    message = make_outbound(contact.id, external_id=sid)

    post(twilio_post, message, "delivered", new_sid())
    db.session.expire_all()
    assert message.status is MessageStatus.ACCEPTED


def test_unsigned_callback_is_403(app_ctx, twilio_post):
    contact = make_inbound().contact
    sid = new_sid()
    message = make_outbound(contact.id, external_id=sid)
    response = twilio_post(
        f"{PATH}?message_id={message.id}", callback(message, "delivered", sid), signature="bad"
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert message.status is MessageStatus.ACCEPTED


def test_malformed_callback_is_400(app_ctx, twilio_post):
    response = twilio_post(PATH, {"AccountSid": ACCOUNT_SID, "MessageSid": new_sid()})
    assert response.status_code == 400
    assert "MessageStatus" in response.get_json()["reason"]
