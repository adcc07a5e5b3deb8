"""Receiving a message: persist it and its contact first, idempotently, then decide what it is."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select, text, update

from mcof_comms.channels.inbound import InboundMessage, can_reply_to
from mcof_comms.db import insert_for, utcnow
from mcof_comms.extensions import db
from mcof_comms.inbound.keywords import KeywordBook, KeywordKind, KeywordMatch
from mcof_comms.models import (
    Case,
    Contact,
    ContactChannel,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from mcof_comms.outbound import texts
from mcof_comms.outbound.status import skip_queued_after_opt_out

logger = logging.getLogger(__name__)

#: Twilio's ``OptOutType`` when Advanced Opt-Out is on for the Messaging Service. Its HELP is
#: not here: Twilio has sent its help text, and a person who wrote "help" is asking for a
#: person, so the message is feedback like any other (config/keywords.yaml).
ADVANCED_OPT_OUT = {
    "STOP": KeywordKind.OPT_OUT,
    "START": KeywordKind.OPT_IN,
}

#: The key of ``message.triage`` that holds why intake flagged a message for review.
INTAKE = "intake"

KEYWORD_KINDS = {
    KeywordKind.OPT_OUT: MessageKind.OPT_OUT,
    KeywordKind.OPT_IN: MessageKind.OPT_IN,
    KeywordKind.HELP: MessageKind.HELP,
}


@dataclass(frozen=True)
class Received:
    message_id: int
    created: bool  # False: this MessageSid was seen before, nothing was done again
    reply: Message | None = None  # a confirmation answered in the TwiML response
    kind: MessageKind = MessageKind.FEEDBACK

    @property
    def message(self) -> Message:
        return db.session.get_one(Message, self.message_id)

    @property
    def needs_processing(self) -> bool:
        return self.created and self.kind is MessageKind.FEEDBACK


def get_keyword_book() -> KeywordBook:
    book: KeywordBook = current_app.extensions["mcof_keywords"]
    return book


def upsert_sender(inbound: InboundMessage, now: datetime) -> tuple[int, int]:
    """Find or create the contact and its channel; return their ids.

    Safe under concurrent webhooks: both are single ``INSERT .. ON CONFLICT`` statements that
    also record the time of this inbound message (the WhatsApp 24-hour window).
    """
    session = db.session
    bind = session.connection()
    sender = inbound.sender
    if sender.phone is not None:
        table = Contact.__table__
        insert = insert_for(bind, table).values(
            phone=sender.phone,
            region=sender.region,
            name=inbound.profile_name,
            first_seen_at=now,
            last_seen_at=now,
            last_inbound_at=now,
            created_at=now,
        )
        contact_id = session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.phone],
                set_={
                    "last_seen_at": now,
                    "last_inbound_at": now,
                    "name": func.coalesce(insert.excluded.name, table.c.name),
                },
            ).returning(table.c.id)
        ).scalar_one()
    else:  # an opaque WhatsApp id: the channel address is the only key
        contact_id = session.scalar(
            select(ContactChannel.contact_id).where(ContactChannel.address == sender.address)
        )
        if contact_id is None:
            contact = Contact(
                first_seen_at=now, last_seen_at=now, last_inbound_at=now, name=inbound.profile_name
            )
            session.add(contact)
            session.flush()
            contact_id = contact.id
        else:
            session.execute(
                update(Contact)
                .where(Contact.id == contact_id)
                .values(last_seen_at=now, last_inbound_at=now)
            )
    table = ContactChannel.__table__
    channel_id = session.execute(
        insert_for(bind, table)
        .values(
            contact_id=contact_id,
            channel=sender.channel.value,
            address=sender.address,
            first_seen_at=now,
            last_inbound_at=now,
        )
        .on_conflict_do_update(index_elements=[table.c.address], set_={"last_inbound_at": now})
        .returning(table.c.id, table.c.contact_id)
    ).one()
    return channel_id.contact_id, channel_id.id


def _message_values(inbound: InboundMessage, kind: MessageKind, now: datetime) -> dict[str, Any]:
    return {
        "direction": Direction.IN.value,
        "channel": inbound.sender.channel.value,
        "kind": kind.value,
        "status": MessageStatus.RECEIVED.value,
        "external_id": inbound.external_id,
        "body": inbound.body,
        "media": [{"url": m.url, "content_type": m.content_type} for m in inbound.media],
        "latitude": inbound.latitude,
        "longitude": inbound.longitude,
        "to_address": inbound.to,
        "from_address": inbound.sender.address,
        "messaging_service_sid": inbound.messaging_service_sid,
        "needs_review": bool(inbound.review),
        "triage": intake_record(inbound),
        "created_at": now,
        "updated_at": now,
    }


def intake_record(inbound: InboundMessage) -> dict[str, Any]:
    """What the message's ``triage`` starts with: why intake flagged it, when it did."""
    return {INTAKE: {"review": list(inbound.review)}} if inbound.review else {}


def _insert_message(
    inbound: InboundMessage, kind: MessageKind, contact_id: int, now: datetime
) -> int | None:
    """Insert the message unless its MessageSid is known; its id, or None for a repeat."""
    session = db.session
    table = Message.__table__
    return session.execute(
        insert_for(session.connection(), table)
        .values(
            **_message_values(inbound, kind, now),
            contact_id=contact_id,
            status_rank=0,
            sectors=[],
        )
        .on_conflict_do_nothing()
        .returning(table.c.id)
    ).scalar_one_or_none()


#: PostgreSQL: contact, channel and message in one round trip (data-modifying CTEs). Same
#: effect as upsert_sender + _insert_message, which SQLite and opaque WhatsApp ids use.
_RECEIVE_SQL = text(
    """
    WITH c AS (
        INSERT INTO contact (phone, region, name, first_seen_at, last_seen_at,
                             last_inbound_at, created_at)
        VALUES (:phone, :region, :name, :now, :now, :now, :now)
        ON CONFLICT (phone) DO UPDATE
            SET last_seen_at = EXCLUDED.last_seen_at,
                last_inbound_at = EXCLUDED.last_inbound_at,
                name = COALESCE(EXCLUDED.name, contact.name)
        RETURNING id
    ), ch AS (
        INSERT INTO contact_channel (contact_id, channel, address, first_seen_at, last_inbound_at)
        SELECT c.id, :channel, :from_address, :now, :now FROM c
        ON CONFLICT (address) DO UPDATE SET last_inbound_at = EXCLUDED.last_inbound_at
        RETURNING id, contact_id
    ), m AS (
        INSERT INTO message (direction, channel, kind, status, status_rank, contact_id,
                             external_id, body, media, latitude, longitude, to_address,
                             from_address, messaging_service_sid, needs_review, triage,
                             created_at, updated_at)
        SELECT :direction, :channel, :kind, :status, 0, ch.contact_id, :external_id, :body,
               CAST(:media AS JSONB), :latitude, :longitude, :to_address, :from_address,
               :messaging_service_sid, :needs_review, CAST(:triage AS JSONB), :created_at,
               :updated_at
        FROM ch
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id
    )
    SELECT ch.contact_id, ch.id, (SELECT id FROM m) FROM ch
    """
)


def _insert_in_one_statement(
    inbound: InboundMessage, kind: MessageKind, now: datetime
) -> tuple[int, int, int | None]:
    values = _message_values(inbound, kind, now)
    values["media"] = json.dumps(values["media"])
    values["triage"] = json.dumps(values["triage"])
    row = db.session.execute(
        _RECEIVE_SQL,
        {
            **values,
            "phone": inbound.sender.phone,
            "region": inbound.sender.region,
            "name": inbound.profile_name,
            "now": now,
        },
    ).one()
    return row[0], row[1], row[2]


def receive_message(inbound: InboundMessage) -> Received:
    """Persist one inbound message. Idempotent: a MessageSid seen before changes nothing.

    The hot path of every webhook: one statement on PostgreSQL, three elsewhere; no reads.
    """
    session = db.session
    # a post read only in part changes no consent: a person looks at it first
    plain = not inbound.media and not inbound.review
    match = get_keyword_book().match(inbound.body) if plain else None
    answered_by_twilio = False
    if inbound.opt_out_type in ADVANCED_OPT_OUT and not inbound.review:
        # Twilio's Advanced Opt-Out matched and answered it: record consent, answer nothing
        match = KeywordMatch(ADVANCED_OPT_OUT[inbound.opt_out_type], language="")
        answered_by_twilio = True
    kind = KEYWORD_KINDS[match.kind] if match else MessageKind.FEEDBACK
    now = utcnow()
    if inbound.sender.phone is not None and session.get_bind().dialect.name == "postgresql":
        contact_id, channel_id, message_id = _insert_in_one_statement(inbound, kind, now)
    else:
        contact_id, channel_id = upsert_sender(inbound, now)
        message_id = _insert_message(inbound, kind, contact_id, now)
    if message_id is None:  # delivered before (or concurrently): change nothing more
        existing = session.scalars(
            select(Message).where(Message.external_id == inbound.external_id)
        ).one()
        return Received(existing.id, created=False, kind=existing.kind)

    reply = None
    if match is not None:
        message = session.get_one(Message, message_id)
        channel = session.get_one(ContactChannel, channel_id)
        # a short code or an alphanumeric sender cannot receive the confirmation
        answer = not answered_by_twilio and can_reply_to(inbound.sender.address)
        reply = handle_keyword(message, channel, match, answer=answer)
    logger.debug("received message %s (%s) for contact %s", message_id, kind.value, contact_id)
    return Received(message_id, created=True, reply=reply, kind=kind)


def handle_keyword(
    message: Message, channel: ContactChannel, match: KeywordMatch, *, answer: bool = True
) -> Message | None:
    """Change consent, mark the message handled, and record the one confirmation we answer."""
    now = utcnow()
    if match.kind is KeywordKind.OPT_OUT:
        channel.opted_out_at = now
        channel.opt_out_source = "keyword"
        skip_queued_after_opt_out(channel.contact_id, channel.channel)
        render = texts.opt_out_confirmation
    elif match.kind is KeywordKind.OPT_IN:
        channel.opted_in_at = now
        render = texts.opt_in_confirmation
    else:
        render = texts.help_text
    message.set_status(MessageStatus.PROCESSED)
    message.processed_at = now
    if not answer:
        return None
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


def keep_intake_review(message: Message, intake: dict[str, Any]) -> None:
    """Put intake's review flag back after triage, which rewrites ``needs_review`` and
    ``triage`` from its own decisions; the message's case goes to the review queue too."""
    message.needs_review = True
    message.triage = {**(message.triage or {}), INTAKE: intake}
    if message.case_id is not None:
        case = db.session.get(Case, message.case_id)
        if case is not None:
            case.needs_review = True


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
