"""Which of our numbers a message comes from: the one the person wrote to, else the operation's.

Two operations share one deployment, each with its own numbers (``operations.yaml``). A person
who texted the second operation's number must get its answers, notices and broadcasts from that
number, not from the deployment's default one. Real RQ workers, the real twilio-python client,
the loopback fake counting what arrived from where.
"""

from __future__ import annotations

from sqlalchemy import select

from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import create_broadcast, request_send
from mcof_comms.extensions import db
from mcof_comms.models import Channel, Message, Operation
from mcof_comms.models.message import SendRoute
from mcof_comms.operations.services import apply_operations_config, get_taxonomy
from mcof_comms.outbound.services import enqueue_outbound, reply_to_contact
from tests.broadcasts.conftest import seed_contacts
from tests.factories import make_inbound

DEFAULT_FROM = "+15005550006"  # the deployment's TWILIO_SMS_FROM in tests
GOMA_SMS, GOMA_WA = "+15005550020", "whatsapp:+15005550020"
SERVICE = "MG" + "7" * 32
PHONE = "+243970001234"


def two_operations() -> Operation:
    apply_operations_config(
        {
            "operations": [
                {"slug": "haiti", "name": "Haiti", "addresses": ["+15005550010"]},
                {
                    "slug": "goma",
                    "name": "Goma",
                    "default_language": "fr",
                    "addresses": [GOMA_SMS, GOMA_WA],
                },
            ]
        },
        get_taxonomy(),
    )
    db.session.commit()
    return db.session.scalars(select(Operation).where(Operation.slug == "goma")).one()


def broadcast_and_send(operation: Operation, drain) -> None:
    broadcast = create_broadcast(
        operation, actor=None, base_language="fr", translations={"fr": "Distribution demain."}
    )
    request_send(broadcast, actor=None)
    db.session.commit()
    enqueue_fan_out(broadcast.id)
    drain()


def reply(contact, text="Votre carte est prête.", **kw) -> int:
    message = reply_to_contact(contact, text, actor=None, **kw)
    db.session.commit()
    enqueue_outbound([message.id])
    return message.id


def test_a_reply_comes_from_the_number_the_person_texted(send_app, fake, drain):
    two_operations()
    contact = make_inbound("Nous n'avons pas d'eau", PHONE, To=GOMA_SMS).contact
    reply(contact)
    drain()
    (sent,) = fake.sent_to(PHONE)
    assert sent.from_ == GOMA_SMS
    assert sent.messaging_service_sid is None


def test_a_reply_to_a_message_through_a_messaging_service_goes_through_it(send_app, fake, drain):
    two_operations()
    inbound = make_inbound("Bonjour", PHONE, To=GOMA_SMS, MessagingServiceSid=SERVICE)
    reply(inbound.contact, reply_to_id=inbound.id)
    drain()
    (sent,) = fake.sent_to(PHONE)
    assert (sent.from_, sent.messaging_service_sid) == (None, SERVICE)


def test_without_a_message_to_go_by_the_operations_own_number_is_used(send_app, fake, drain):
    goma = two_operations()
    contacts = seed_contacts(goma, 3, channels=(Channel.WHATSAPP, Channel.SMS))
    broadcast_and_send(goma, drain)
    assert len(fake.sent) == len(contacts)
    for sent in fake.sent:
        assert sent.from_ == (GOMA_WA if sent.to.startswith("whatsapp:") else GOMA_SMS)


def test_sms_fallback_from_whatsapp_comes_from_the_sms_number_the_person_knows(
    send_app, fake, drain
):
    two_operations()
    make_inbound("Bonjour", PHONE, To=GOMA_SMS)
    contact = make_inbound("Salut", f"whatsapp:{PHONE}", To=GOMA_WA).contact
    fake.whatsapp_window_closed(PHONE)  # Twilio answers 63016: resend by SMS
    message_id = reply(contact, channel=Channel.WHATSAPP)
    drain()
    resend = db.session.scalars(select(Message).where(Message.retry_of_id == message_id)).one()
    assert resend.route is SendRoute.SMS_FALLBACK
    (sms,) = fake.sent_to(PHONE)
    assert sms.from_ == GOMA_SMS
    (whatsapp,) = [r for r in fake.requests if r.form.get("To") == f"whatsapp:{PHONE}"]
    assert whatsapp.form["From"] == GOMA_WA  # refused for the window, but from the right sender


def test_the_deployment_number_remains_the_last_resort(send_app, fake, drain):
    contact = make_inbound("Hello", PHONE).contact  # texted the deployment's own number
    reply(contact)
    drain()
    assert fake.sent_to(PHONE)[0].from_ == DEFAULT_FROM


def test_an_operations_messaging_service_carries_its_sms_not_its_whatsapp(send_app, fake, drain):
    apply_operations_config(
        {"operations": [{"slug": "kyiv", "name": "Kyiv", "addresses": [SERVICE, GOMA_WA]}]},
        get_taxonomy(),
    )
    db.session.commit()
    kyiv = db.session.scalars(select(Operation).where(Operation.slug == "kyiv")).one()
    seed_contacts(kyiv, 2, channels=(Channel.WHATSAPP,))
    seed_contacts(kyiv, 2, channels=(Channel.SMS,))
    broadcast_and_send(kyiv, drain)
    assert len(fake.sent) == 4
    for sent in fake.sent:
        if sent.to.startswith("whatsapp:"):
            assert (sent.from_, sent.messaging_service_sid) == (GOMA_WA, None)
        else:
            assert (sent.from_, sent.messaging_service_sid) == (None, SERVICE)
