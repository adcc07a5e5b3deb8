"""One sending path: the real twilio-python client against the loopback fake, real RQ workers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import Case, Channel, ContactChannel, Message, MessageKind, MessageStatus
from mcof_comms.models.message import SendRoute
from mcof_comms.outbound.services import enqueue_outbound, queue_outbound, reply_to_contact
from tests.factories import make_inbound
from tests.outbound.conftest import contact_by_phone

PHONE = "+50937001234"


def queue_reply(contact, body="Distribution tomorrow at 9", **kw) -> int:
    message = queue_outbound(contact, body, kind=MessageKind.REPLY, **kw)
    db.session.commit()
    enqueue_outbound([message.id])
    return message.id


def reload(message_id: int) -> Message:
    db.session.expire_all()
    return db.session.get_one(Message, message_id)


def test_reply_is_sent_once_with_a_callback_carrying_our_id(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert message.status is MessageStatus.ACCEPTED
    assert message.route is SendRoute.TEXT
    [sent] = fake.sent
    assert message.external_id == sent.sid
    assert sent.to == PHONE
    assert sent.from_ == "+15005550006"
    assert sent.status_callback == (
        f"http://localhost/webhooks/twilio/status?message_id={message.id}"
    )
    assert message.num_segments == 1
    assert message.send_attempts == 1
    drain()  # a repeat of the job finds the row past QUEUED
    assert len(fake.sent) == 1


def test_opt_out_between_queueing_and_sending_is_respected(send_app, fake, drain):
    from tests.conftest import inbound_params, sign

    contact = make_inbound(sender=PHONE).contact
    message_id = queue_reply(contact)
    params = inbound_params("STOP", PHONE)
    response = send_app.test_client().post(
        "/webhooks/twilio/messages",
        data=params,
        headers={"X-Twilio-Signature": sign("http://localhost/webhooks/twilio/messages", params)},
    )
    assert response.status_code == 200
    drain()
    message = reload(message_id)
    assert message.status is MessageStatus.SKIPPED
    assert message.failure_reason == "opted_out"
    assert fake.count_to(PHONE) == 0


def test_invalid_number_is_a_typed_failure_without_retry(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    fake.fail_for(PHONE, code=21211)
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert message.status is MessageStatus.FAILED
    assert (message.failure_reason, message.error_code) == ("invalid_number", 21211)
    assert message.send_attempts == 1


def test_unsubscribed_21610_fails_and_opts_the_contact_out(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    fake.fail_for(PHONE, code=21610)
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert (message.status, message.failure_reason) == (MessageStatus.FAILED, "unsubscribed")
    assert message.contact.is_opted_out(Channel.SMS)
    assert message.contact.channel(Channel.SMS).opt_out_source == "21610"


def test_429_and_5xx_are_retried_with_backoff_and_sent_once(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    fake.fail_next(1, status=429, code=20429)
    fake.fail_next(1, status=503, code=20500)
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert message.status is MessageStatus.ACCEPTED
    assert message.send_attempts == 3
    assert fake.count_to(PHONE) == 1


def test_accepted_then_dropped_is_reconciled_not_resent(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    fake.drop_after_accept(1)
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert fake.count_to(PHONE) == 1
    assert message.status is MessageStatus.ACCEPTED
    assert message.external_id == fake.sent[0].sid
    assert message.send_attempts == 1  # found at the provider, never sent again


def test_repetition_guard_stops_and_flags(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    messages = [queue_reply(contact, "Same text") for _ in range(3)]
    drain()
    assert fake.count_to(PHONE) == 3
    contact = contact_by_phone(PHONE)
    extra = queue_reply(contact, "Same text")
    other = queue_reply(contact, "A different text")
    drain()
    extra, other = reload(extra), reload(other)
    assert (extra.status, extra.failure_reason) == (MessageStatus.SKIPPED, "repetition")
    assert extra.needs_review
    assert other.status is MessageStatus.ACCEPTED
    assert fake.count_to(PHONE) == 4
    assert all(reload(m).status is MessageStatus.ACCEPTED for m in messages)


def _close_window(contact_id: int, channel: Channel = Channel.WHATSAPP) -> None:
    db.session.execute(
        ContactChannel.__table__.update()
        .where(
            ContactChannel.__table__.c.contact_id == contact_id,
            ContactChannel.__table__.c.channel == channel.value,
        )
        .values(last_inbound_at=utcnow() - timedelta(hours=30))
    )
    db.session.commit()


def test_whatsapp_outside_window_falls_back_to_sms_and_records_it(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    make_inbound(sender=f"whatsapp:{PHONE}")
    _close_window(contact.id)
    message = queue_reply(contact, channel=Channel.WHATSAPP)
    drain()
    message = reload(message)
    assert message.route is SendRoute.SMS_FALLBACK
    assert message.channel is Channel.SMS
    assert message.to_address == PHONE
    assert fake.count_to(PHONE) == 1
    assert fake.count_to(f"whatsapp:{PHONE}") == 0


def test_whatsapp_outside_window_without_sms_fails_unsent(send_app, fake, drain):
    contact = make_inbound(sender=f"whatsapp:{PHONE}").contact
    _close_window(contact.id)
    message = queue_reply(contact)
    drain()
    message = reload(message)
    assert (message.status, message.failure_reason) == (MessageStatus.FAILED, "outside_window")
    assert fake.sent == []


def test_whatsapp_63016_from_the_provider_resends_by_sms(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    make_inbound(sender=f"whatsapp:{PHONE}")
    fake.whatsapp_window_closed(PHONE)  # Twilio disagrees with our clock
    message = queue_reply(contact, channel=Channel.WHATSAPP)
    drain()
    message = reload(message)
    assert (message.status, message.failure_reason) == (MessageStatus.FAILED, "outside_window")
    resend = db.session.scalars(select(Message).where(Message.retry_of_id == message.id)).one()
    assert resend.route is SendRoute.SMS_FALLBACK
    assert resend.status is MessageStatus.ACCEPTED
    assert fake.count_to(PHONE) == 1


def test_async_63016_callback_queues_the_fallback(send_app, fake, drain):
    from tests.conftest import ACCOUNT_SID, sign

    contact = make_inbound(sender=PHONE).contact
    make_inbound(sender=f"whatsapp:{PHONE}")
    message = reload(queue_reply(contact, channel=Channel.WHATSAPP))
    drain()
    message = reload(message.id)
    assert message.status is MessageStatus.ACCEPTED
    message_id, sid = message.id, message.external_id
    params = {
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "MessageStatus": "undelivered",
        "ErrorCode": "63016",
        "EventType": "UNDELIVERED",
    }
    path = f"/webhooks/twilio/status?message_id={message_id}"
    response = send_app.test_client().post(
        path, data=params, headers={"X-Twilio-Signature": sign(f"http://localhost{path}", params)}
    )
    assert response.status_code == 200
    drain()
    resend = db.session.scalars(select(Message).where(Message.retry_of_id == message_id)).one()
    assert resend.route is SendRoute.SMS_FALLBACK
    assert resend.status is MessageStatus.ACCEPTED
    assert fake.count_to(PHONE) == 1


def test_reply_to_an_opted_out_contact_is_refused(send_app):
    import pytest

    from mcof_comms.outbound.services import OutboundError

    contact = make_inbound(sender=PHONE).contact
    contact.channels[0].opted_out_at = utcnow()
    with pytest.raises(OutboundError):
        reply_to_contact(contact, "Hello", actor=None)


def test_sweeper_recovers_rows_whose_jobs_were_lost(send_app, fake, drain):
    from mcof_comms.maintenance import sweep
    from mcof_comms.outbound.dispatch import Dispatcher

    contact = make_inbound(sender=PHONE).contact
    in_doubt = queue_outbound(contact, "First", kind=MessageKind.REPLY).id
    never_run = queue_outbound(contact, "Second", kind=MessageKind.REPLY).id
    db.session.commit()  # committed, but Redis was down: no jobs
    fake.drop_after_accept(1)
    Dispatcher().run([[in_doubt]])  # Twilio took it, the answer was lost, then the job too
    assert reload(in_doubt).status is MessageStatus.SENDING
    assert reload(never_run).status is MessageStatus.QUEUED

    assert sweep(older_than_seconds=0).outbound == 2
    drain()
    assert reload(in_doubt).status is MessageStatus.ACCEPTED
    assert reload(never_run).status is MessageStatus.ACCEPTED
    assert reload(in_doubt).send_attempts == 1  # found at the provider, not sent again
    bodies = [m.body for m in fake.sent_to(PHONE)]
    assert (bodies.count("First"), bodies.count("Second")) == (1, 1)


def test_a_500_is_reconciled_then_resent_once(send_app, fake, drain):
    contact = make_inbound(sender=PHONE).contact
    fake.fail_next(1, status=500, code=20500)  # Twilio may or may not have taken it
    message = queue_reply(contact, "After a 500")
    drain()
    message = reload(message)
    assert message.status is MessageStatus.ACCEPTED
    assert [m.body for m in fake.sent_to(PHONE)].count("After a 500") == 1
    assert message.send_attempts == 2


REPLY_TEMPLATES = {
    "fr": {"content_sid": "HX" + "f" * 32, "variables": {"1": "{reference}", "2": "{text}"}},
    "en": {"content_sid": "HX" + "e" * 32, "variables": {"1": "{text}"}},
}


def test_reply_outside_the_window_goes_as_the_operations_template(send_app, fake, drain):
    from tests.console.helpers import make_case
    from tests.outbound.conftest import make_operation

    operation = make_operation(settings={"reply_templates": REPLY_TEMPLATES})
    make_case(operation, phone=f"whatsapp:{PHONE}", language="fr")
    case = db.session.scalars(select(Case)).one()
    reference = case.reference
    contact = case.contact
    contact.language = "fr"
    db.session.commit()
    _close_window(contact.id)
    message = reply_to_contact(
        contact, "Votre carte est prête au bureau B.", actor=None, case_id=case.id
    )
    db.session.commit()
    enqueue_outbound([message.id])
    drain()
    message = reload(message.id)
    assert (message.status, message.route) == (MessageStatus.ACCEPTED, SendRoute.TEMPLATE)
    (sent,) = fake.sent_to(f"whatsapp:{PHONE}")
    assert sent.content_sid == "HX" + "f" * 32
    assert sent.content_variables == {
        "1": reference,
        "2": "Votre carte est prête au bureau B.",
    }
    assert sent.body is None
    assert fake.count_to(PHONE) == 0  # no SMS fallback needed


def test_reply_inside_the_window_stays_free_text_despite_a_template(send_app, fake, drain):
    from tests.outbound.conftest import make_operation

    operation = make_operation(settings={"reply_templates": REPLY_TEMPLATES})
    contact = make_inbound(sender=f"whatsapp:{PHONE}").contact
    contact.language = "sw"  # no Swahili template: the operation's French one would be used
    db.session.commit()
    message_id = queue_reply(contact, "Karibu", operation_id=operation.id)
    assert reload(message_id).content_sid == "HX" + "f" * 32
    drain()
    message = reload(message_id)
    assert message.route is SendRoute.TEXT
    (sent,) = fake.sent_to(f"whatsapp:{PHONE}")
    assert (sent.body, sent.content_sid) == ("Karibu", None)


def test_operations_config_refuses_a_malformed_reply_template(app_ctx):
    import pytest

    from mcof_comms.operations.services import (
        OperationConfigError,
        apply_operations_config,
        get_taxonomy,
    )

    entry = {
        "slug": "goma",
        "name": "Goma",
        "addresses": ["+15005550011"],
        "settings": {
            "reply_templates": {"fr": {"content_sid": "HX1", "variables": {"1": "{nom}"}}}
        },
    }
    with pytest.raises(
        OperationConfigError, match=r"reply_templates.fr: unknown placeholder \{nom\}"
    ):
        apply_operations_config({"operations": [entry]}, get_taxonomy())
    entry["settings"] = {"reply_templates": {"fr": {"content_sid": "MG1"}}}
    with pytest.raises(OperationConfigError, match="content_sid"):
        apply_operations_config({"operations": [entry]}, get_taxonomy())


def test_a_row_taken_over_after_its_lease_is_not_sent_by_the_first_taker(send_app, fake):
    from mcof_comms.outbound.dispatch import Dispatcher

    contact = make_inbound(sender=PHONE).contact
    message = queue_outbound(contact, "Distribution at 9", kind=MessageKind.REPLY)
    message.set_status(MessageStatus.SENDING)  # left by a crash, lease (0 s here) long gone
    message.send_attempted_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    message_id = message.id
    first = Dispatcher()
    plans = first._prepare([message_id])  # takes it over; Twilio has no such message
    assert [p.reclaimed for p in plans] == [True]
    db.session.execute(  # meanwhile a second job takes it over too, its lease having passed
        Message.__table__.update()
        .where(Message.__table__.c.id == message_id)
        .values(send_attempted_at=utcnow())
    )
    db.session.commit()
    assert first._claim(plans) == []  # no longer ours: not sent from here
    assert fake.sent == []
