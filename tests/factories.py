"""Test data, made through the services where they exist."""

from __future__ import annotations

from mcof_comms.channels.twilio.parse import parse_inbound
from mcof_comms.extensions import db
from mcof_comms.inbound.services import receive_message
from mcof_comms.models import Direction, Message, MessageKind, MessageStatus
from tests.conftest import inbound_params


def make_inbound(body: str = "Hello", sender: str = "+50937001234", **extra: str) -> Message:
    received = receive_message(parse_inbound(inbound_params(body, sender, **extra)))
    db.session.commit()
    return received.message


def make_outbound(
    contact_id: int, body: str = "Distribution tomorrow", **fields: object
) -> Message:
    """An outbound message already handed to the provider, as the send job leaves it."""
    message = Message(
        direction=Direction.OUT,
        channel=fields.pop("channel", None) or _channel_of(contact_id),
        kind=MessageKind.REPLY,
        contact_id=contact_id,
        body=body,
        **fields,
    )
    message.set_status(fields.get("status", MessageStatus.ACCEPTED))  # type: ignore[arg-type]
    db.session.add(message)
    db.session.commit()
    return message


def _channel_of(contact_id: int):  # type: ignore[no-untyped-def]
    from mcof_comms.models import Contact

    return db.session.get_one(Contact, contact_id).channels[0].channel
