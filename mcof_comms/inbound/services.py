"""Receiving a message: persist it and its contact first, idempotently, then decide what it is."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select, update

from mcof_comms.channels.inbound import InboundMessage
from mcof_comms.db import insert_for, utcnow
from mcof_comms.extensions import db
from mcof_comms.inbound.keywords import KeywordBook, KeywordKind, KeywordMatch
from mcof_comms.models import (
    Contact,
    ContactChannel,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from mcof_comms.outbound import texts

logger = logging.getLogger(__name__)

KEYWORD_KINDS = {
    KeywordKind.OPT_OUT: MessageKind.OPT_OUT,
    KeywordKind.OPT_IN: MessageKind.OPT_IN,
    KeywordKind.HELP: MessageKind.HELP,
}


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool  # False: this MessageSid was seen before, nothing was done again
    reply: Message | None = None  # a confirmation answered in the TwiML response

    @property
    def needs_processing(self) -> bool:
        return self.created and self.message.status is MessageStatus.RECEIVED


def get_keyword_book() -> KeywordBook:
    book: KeywordBook = current_app.extensions["mcof_keywords"]
    return book


def get_or_create_contact(inbound: InboundMessage) -> tuple[Contact, ContactChannel]:
    """Find the person behind an address, creating them safely under concurrent webhooks."""
    sender = inbound.sender
    session = db.session
    bind = session.connection()
    now = utcnow()
    if sender.phone is not None:
        session.execute(
            insert_for(bind, Contact.__table__)
            .values(
                phone=sender.phone,
                region=sender.region,
                first_seen_at=now,
                last_seen_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        contact = session.scalars(select(Contact).where(Contact.phone == sender.phone)).one()
    else:
        existing = session.scalars(
            select(ContactChannel).where(ContactChannel.address == sender.address)
        ).one_or_none()
        if existing is not None:
            contact = existing.contact
        else:
            contact = Contact(first_seen_at=now, last_seen_at=now)
            session.add(contact)
            session.flush()
    session.execute(
        insert_for(bind, ContactChannel.__table__)
        .values(
            contact_id=contact.id,
            channel=sender.channel.value,
            address=sender.address,
            first_seen_at=now,
        )
        .on_conflict_do_nothing()
    )
    channel = session.scalars(
        select(ContactChannel).where(ContactChannel.address == sender.address)
    ).one()
    if channel.contact_id != contact.id and sender.phone is None:
        session.delete(contact)  # lost a race for an opaque id: the other request's contact wins
        contact = channel.contact
    session.refresh(contact)
    return contact, channel


def receive_message(inbound: InboundMessage) -> Received:
    """Persist one inbound message. Idempotent: a MessageSid seen before changes nothing."""
    session = db.session
    contact, channel = get_or_create_contact(inbound)
    existing = session.scalars(
        select(Message).where(Message.external_id == inbound.external_id)
    ).one_or_none()
    if existing is not None:
        return Received(existing, created=False)

    match = get_keyword_book().match(inbound.body) if not inbound.media else None
    kind = KEYWORD_KINDS[match.kind] if match else MessageKind.FEEDBACK
    now = utcnow()
    message_id = session.execute(
        insert_for(session.connection(), Message.__table__)
        .values(
            direction=Direction.IN.value,
            channel=inbound.sender.channel.value,
            kind=kind.value,
            status=MessageStatus.RECEIVED.value,
            status_rank=0,
            contact_id=contact.id,
            external_id=inbound.external_id,
            body=inbound.body,
            media=[{"url": m.url, "content_type": m.content_type} for m in inbound.media],
            latitude=inbound.latitude,
            longitude=inbound.longitude,
            to_address=inbound.to,
            from_address=inbound.sender.address,
            messaging_service_sid=inbound.messaging_service_sid,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
        .returning(Message.__table__.c.id)
    ).scalar_one_or_none()
    if message_id is None:  # a concurrent delivery of the same MessageSid won the insert
        duplicate = session.scalars(
            select(Message).where(Message.external_id == inbound.external_id)
        ).one()
        return Received(duplicate, created=False)

    session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(last_seen_at=now, last_inbound_at=now, name=inbound.profile_name or Contact.name)
    )
    session.execute(
        update(ContactChannel).where(ContactChannel.id == channel.id).values(last_inbound_at=now)
    )
    message = session.get_one(Message, message_id)
    session.refresh(contact)
    session.refresh(channel)
    reply = None
    if match is not None:
        reply = handle_keyword(message, channel, match)
    logger.info("received message %s (%s) for contact %s", message.id, kind.value, contact.id)
    return Received(message, created=True, reply=reply)


def handle_keyword(message: Message, channel: ContactChannel, match: KeywordMatch) -> Message:
    """Change consent, mark the message handled, and record the one confirmation we answer."""
    now = utcnow()
    if match.kind is KeywordKind.OPT_OUT:
        channel.opted_out_at = now
        channel.opt_out_source = "keyword"
        render = texts.opt_out_confirmation
    elif match.kind is KeywordKind.OPT_IN:
        channel.opted_in_at = now
        render = texts.opt_in_confirmation
    else:
        render = texts.help_text
    message.set_status(MessageStatus.PROCESSED)
    message.processed_at = now
    locale = message.contact.language or match.language
    with force_locale(locale):
        body = render()
    reply = Message(
        direction=Direction.OUT,
        channel=message.channel,
        kind=MessageKind.SYSTEM,
        contact_id=message.contact_id,
        body=body,
        to_address=channel.address,
        from_address=message.to_address,
        reply_to_id=message.id,
        provider_status="twiml",
        sent_at=now,
    )
    reply.set_status(MessageStatus.ACCEPTED)  # handed to Twilio in the webhook's TwiML answer
    db.session.add(reply)
    db.session.flush()
    return reply


def list_stuck_inbound(older_than_seconds: int, limit: int = 1000) -> list[int]:
    """Ids of inbound messages still waiting for processing after ``older_than_seconds``."""
    from datetime import timedelta

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    return list(
        db.session.scalars(
            select(Message.id)
            .where(Message.status == MessageStatus.RECEIVED, Message.created_at < cutoff)
            .order_by(Message.created_at)
            .limit(limit)
        )
    )
