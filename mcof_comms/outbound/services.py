"""Outbound use cases: queue a message, enqueue its send, reply to one contact, recover.

Every message the platform sends starts as a ``QUEUED`` row written here; the send job
(:mod:`mcof_comms.outbound.jobs`) moves it on. Services add and flush, never commit; views and
jobs commit, then call :func:`enqueue_outbound`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from config import Settings
from mcof_comms import jobs
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    OPEN_STATUSES,
    AuditEntry,
    Case,
    Channel,
    Contact,
    ContactChannel,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Operation,
    User,
)
from mcof_comms.outbound.segments import count_segments
from mcof_comms.outbound.templates import reply_template

logger = logging.getLogger(__name__)

#: Bulk (broadcast) rows are sent by one job per range of this many message ids, so enqueueing
#: a range twice (planner, sweeper, retry) finds the job already waiting instead of adding one.
BUCKET_SIZE = 500
MAX_BODY = 1600
#: After this many attempts a message that still fails transiently is recorded as failed.
MAX_SEND_ATTEMPTS = 8

_SESSION_KEY = "mcof_outbound_after_commit"


class OutboundError(ValueError):
    """The message cannot be queued: no address on that channel, opted out, empty or too long."""


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["mcof_settings"]
    return settings


def sender_address(
    channel: Channel,
    settings: Settings | None = None,
    *,
    operation_id: int | None = None,
    wrote_to: Message | None = None,
) -> tuple[str | None, str | None]:
    """Return ``(from_, messaging_service_sid)`` for a channel; exactly one is set when usable.

    People answer the number they know, and a reply from another one looks like a stranger's.
    So: the address the person wrote to (``wrote_to``, an inbound message on this channel: its
    Messaging Service, else its ``To``), else the operation's own address on this channel, else
    the deployment's (``TWILIO_*``).
    """
    settings = settings or get_settings()
    if wrote_to is not None and wrote_to.channel is channel:
        if wrote_to.messaging_service_sid:
            return None, wrote_to.messaging_service_sid
        if wrote_to.to_address and _on_channel(wrote_to.to_address, channel):
            return wrote_to.to_address, None
    if operation_id is not None:
        from mcof_comms.operations.services import operation_addresses

        own = [a for a in operation_addresses(operation_id) if _on_channel(a, channel)]
        service = next((a for a in own if a.startswith("MG")), None)
        if service is not None:
            return None, service
        if own:
            return own[0], None
    if channel is Channel.WHATSAPP:
        return settings.twilio_whatsapp_from, None
    if settings.twilio_messaging_service_sid:
        return None, settings.twilio_messaging_service_sid
    return settings.twilio_sms_from, None


def _on_channel(address: str, channel: Channel) -> bool:
    """An operation's address usable on ``channel``: ``whatsapp:`` senders for WhatsApp; numbers
    and Messaging Services (whose senders we cannot see; most carry SMS) for SMS. A person who
    wrote through a service on WhatsApp is answered through it (``wrote_to``)."""
    return address.startswith("whatsapp:") == (channel is Channel.WHATSAPP)


def last_inbound(contact_id: int, channel: Channel) -> Message | None:
    """The person's latest message to us on ``channel``: the address a reply should come from."""
    return db.session.scalars(
        select(Message)
        .where(
            Message.contact_id == contact_id,
            Message.direction == Direction.IN,
            Message.channel == channel,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).first()


def pick_channel(contact: Contact, channel: Channel | None = None) -> ContactChannel | None:
    """The contact's address on ``channel``; by default the channel they last wrote on."""
    if channel is not None:
        return contact.channel(channel)
    if not contact.channels:
        return None
    usable = [c for c in contact.channels if not c.opted_out] or list(contact.channels)
    return max(usable, key=lambda c: (c.last_inbound_at is not None, c.last_inbound_at, c.id))


def queue_outbound(
    contact: Contact,
    body: str,
    *,
    kind: MessageKind,
    channel: Channel | None = None,
    case_id: int | None = None,
    reply_to_id: int | None = None,
    operation_id: int | None = None,
    priority: bool = True,
    broadcast_id: int | None = None,
    language: str | None = None,
) -> Message:
    """Add one ``QUEUED`` outbound message and flush; never commits.

    Picks the channel the contact last wrote on when ``channel`` is None. Consent and the
    WhatsApp window are checked again when the message is sent, not only here. ``priority``
    False sends it on the bulk queue, behind replies.
    """
    address = pick_channel(contact, channel)
    if address is None:
        raise OutboundError("the contact has no address on that channel")
    if len(body) > MAX_BODY:
        raise OutboundError(f"the text is longer than {MAX_BODY} characters")
    wrote_to = db.session.get(Message, reply_to_id) if reply_to_id else None
    if wrote_to is None or wrote_to.direction is not Direction.IN:
        wrote_to = last_inbound(contact.id, address.channel)
    from_, service = sender_address(
        address.channel,
        operation_id=operation_id or (wrote_to.operation_id if wrote_to else None),
        wrote_to=wrote_to,
    )
    message = Message(
        direction=Direction.OUT,
        channel=address.channel,
        kind=kind,
        contact_id=contact.id,
        body=body,
        to_address=address.address,
        from_address=from_,
        messaging_service_sid=service,
        num_segments=count_segments(body).segments,
        case_id=case_id,
        reply_to_id=reply_to_id,
        operation_id=operation_id,
        broadcast_id=broadcast_id,
        language=language or contact.language,
    )
    if address.channel is Channel.WHATSAPP and broadcast_id is None:
        template = _reply_template(message)
        if template is not None:
            message.content_sid, message.content_variables = template
    message.set_status(MessageStatus.QUEUED)
    db.session.add(message)
    db.session.flush()
    if not priority:
        db.session.info.setdefault("mcof_low_priority", set()).add(message.id)
    return message


def _reply_template(message: Message) -> tuple[str, dict[str, str]] | None:
    """The operation's approved template for this message, for a closed WhatsApp window."""
    case = db.session.get(Case, message.case_id) if message.case_id else None
    operation_id = message.operation_id or (case.operation_id if case is not None else None)
    operation = db.session.get(Operation, operation_id) if operation_id else None
    if operation is None:
        return None
    return reply_template(
        operation.settings,
        message.language,
        operation.default_language,
        text=message.body or "",
        reference=case.reference if case is not None else None,
    )


def render_for(contact: Contact, render: Callable[..., str], *args: Any, **kwargs: Any) -> str:
    """Render a system text (``mcof_comms.outbound.texts``) in the contact's language."""
    locale = contact.language or get_settings().default_locale
    with force_locale(locale):
        return render(*args, **kwargs)


def reply_case(contact_id: int) -> Case | None:
    """The case a reply sent without one belongs to: the contact's open sensitive case when
    there is one (while it is open everything they write joins it), else their latest open
    case; None when they have no open case."""
    return db.session.scalars(
        select(Case)
        .where(Case.contact_id == contact_id, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.sensitive_category.is_(None), Case.last_message_at.desc(), Case.id.desc())
        .limit(1)
    ).first()


def contact_operation_id(contact_id: int) -> int | None:
    """The operation of the contact's latest message that has one (a case-less reply's)."""
    return db.session.scalar(
        select(Message.operation_id)
        .where(Message.contact_id == contact_id, Message.operation_id.is_not(None))
        .order_by(Message.id.desc())
        .limit(1)
    )


def reply_to_contact(
    contact: Contact,
    body: str,
    *,
    actor: User | None,
    channel: Channel | None = None,
    case_id: int | None = None,
    reply_to_id: int | None = None,
    operation_id: int | None = None,
) -> Message:
    """Queue a reply a person wrote to one contact; refuse an opted-out or empty one."""
    body = body.strip()
    if not body:
        raise OutboundError("the reply is empty")
    address = pick_channel(contact, channel)
    if address is None:
        raise OutboundError("the contact has no address on that channel")
    if address.opted_out:
        raise OutboundError("the contact opted out on that channel")
    message = queue_outbound(
        contact,
        body,
        kind=MessageKind.REPLY,
        channel=address.channel,
        case_id=case_id,
        reply_to_id=reply_to_id,
        operation_id=operation_id,
    )
    db.session.add(
        AuditEntry(
            user_id=actor.id if actor is not None else None,
            action="reply",
            object_type="message",
            object_id=message.id,
            detail={"contact_id": contact.id, "channel": address.channel.value},
        )
    )
    return message


def bucket_of(message_id: int) -> int:
    return message_id // BUCKET_SIZE


def enqueue_outbound(message_ids: Iterable[int]) -> int:
    """Queue the send jobs for these messages; call after commit. Returns jobs queued.

    Replies and acknowledgements go on the ``replies`` queue, one job each; broadcast rows on
    ``bulk``, one job per range of ids. Enqueueing is idempotent. If Redis is down nothing is
    lost: the sweeper finds the rows still ``QUEUED``.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return 0
    bulk_ids: set[int] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        bulk_ids.update(
            db.session.scalars(
                select(Message.id).where(Message.id.in_(chunk), Message.broadcast_id.is_not(None))
            )
        )
    return _enqueue(ids, bulk_ids)


def _enqueue(ids: Iterable[int], bulk_ids: set[int]) -> int:
    low_priority: set[int] = db.session.info.pop("mcof_low_priority", set())
    queued = 0
    ids = list(ids)
    try:
        for bucket in sorted({bucket_of(i) for i in bulk_ids}):
            queued += enqueue_bucket(bucket)
        for message_id in ids:
            if message_id in bulk_ids:
                continue
            stage = jobs.BULK if message_id in low_priority else jobs.REPLIES
            job = jobs.enqueue(
                stage,
                "mcof_comms.outbound.jobs.send_outbound_message",
                message_id,
                job_id=f"outbound-{message_id}",
            )
            queued += job is not None
    except redis.RedisError:
        logger.warning("queue unavailable; %s outbound messages wait for the sweeper", len(ids))
    return queued


def enqueue_bucket(bucket: int, *, suffix: str = "") -> int:
    """Queue the bulk job for one range of message ids (1 if queued, 0 if already waiting)."""
    job = jobs.enqueue(
        jobs.BULK,
        "mcof_comms.outbound.jobs.send_outbound_bucket",
        bucket,
        job_id=f"outbound-bucket-{bucket}{suffix}",
    )
    return int(job is not None)


def enqueue_outbound_after_commit(messages: Iterable[Message]) -> None:
    """Enqueue these (flushed) messages once the current transaction commits."""
    pending: dict[int, bool] = db.session.info.setdefault(_SESSION_KEY, {})
    for message in messages:
        pending[message.id] = message.broadcast_id is not None


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    pending: dict[int, bool] | None = session.info.pop(_SESSION_KEY, None)
    if pending:
        try:
            _enqueue(pending, {i for i, bulk in pending.items() if bulk})
        except Exception:  # the rows are committed: the sweeper sends them later
            logger.exception("could not enqueue %s outbound messages after commit", len(pending))


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


def requeue_stuck_outbound(age_seconds: int, limit: int = 20_000) -> int:
    """Re-enqueue outbound rows left ``QUEUED`` or ``SENDING``, and broadcasts left mid-way.

    Idempotent: a job still waiting for the same message or id range is left alone. A row in
    ``SENDING`` is checked with the provider (``find_sent``) before it is sent again.
    """
    cutoff = utcnow() - timedelta(seconds=age_seconds)
    stuck = (
        Message.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
        Message.direction == Direction.OUT,
        Message.updated_at <= cutoff,
    )
    buckets = list(
        db.session.scalars(
            select(func.distinct(Message.id // BUCKET_SIZE)).where(
                *stuck, Message.broadcast_id.is_not(None)
            )
        )
    )
    single_ids = list(
        db.session.scalars(
            select(Message.id)
            .where(*stuck, Message.broadcast_id.is_(None))
            .order_by(Message.id)
            .limit(limit)
        )
    )
    from mcof_comms.broadcasts.services import list_unfinished_broadcasts

    broadcast_ids = list_unfinished_broadcasts(cutoff)
    db.session.rollback()  # end the read transaction before talking to Redis
    queued = 0
    try:
        for bucket in sorted(int(b) for b in buckets):
            queued += enqueue_bucket(bucket)
        for message_id in single_ids:
            job = jobs.enqueue(
                jobs.REPLIES,
                "mcof_comms.outbound.jobs.send_outbound_message",
                message_id,
                job_id=f"outbound-{message_id}",
            )
            queued += job is not None
        from mcof_comms.broadcasts.jobs import enqueue_fan_out

        for broadcast_id in broadcast_ids:
            queued += int(enqueue_fan_out(broadcast_id))
    except redis.RedisError:
        logger.warning("queue unavailable; the sweeper will try again")
    return queued


def count_outbound(status: MessageStatus) -> int:
    """How many outbound messages are in ``status`` (health and tests)."""
    return int(
        db.session.scalar(
            select(func.count(Message.id)).where(
                Message.direction == Direction.OUT, Message.status == status
            )
        )
        or 0
    )
