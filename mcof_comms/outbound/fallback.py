"""WhatsApp outside the 24-hour window (63016): resend by template, else by SMS, once."""

from __future__ import annotations

import logging

from mcof_comms.channels.base import FailureReason
from mcof_comms.extensions import db
from mcof_comms.models import Channel, Direction, Message, MessageStatus
from mcof_comms.models.message import SendRoute
from mcof_comms.outbound.services import (
    enqueue_outbound_after_commit,
    last_inbound,
    sender_address,
)

logger = logging.getLogger(__name__)


def queue_window_fallback(message_id: int) -> Message | None:
    """Queue the resend of a WhatsApp text refused for the window; None when there is no way.

    The new row points at the original (``retry_of_id``) and records the route it takes: the
    approved template the original carried, else SMS where the contact has it and has not opted
    out. A resend is never resent again. Enqueued when the transaction commits.
    """
    original = db.session.get(Message, message_id)
    if (
        original is None
        or original.direction is not Direction.OUT
        or original.channel is not Channel.WHATSAPP
        or original.retry_of_id is not None
        or original.route is SendRoute.TEMPLATE
    ):
        return None
    existing = db.session.query(Message.id).filter(Message.retry_of_id == original.id).first()
    if existing is not None:
        return None
    contact = original.contact
    sms = contact.channel(Channel.SMS)
    if original.content_sid:
        route, channel, to = SendRoute.TEMPLATE, Channel.WHATSAPP, original.to_address
    elif sms is not None and not sms.opted_out:
        route, channel, to = SendRoute.SMS_FALLBACK, Channel.SMS, sms.address
    else:
        logger.info("message %s: window closed, no template and no SMS to fall back on", message_id)
        return None
    from_, service = sender_address(
        channel,
        operation_id=original.operation_id,
        wrote_to=last_inbound(original.contact_id, channel),
    )
    resend = Message(
        direction=Direction.OUT,
        channel=channel,
        kind=original.kind,
        contact_id=original.contact_id,
        body=original.body,
        to_address=to,
        from_address=from_,
        messaging_service_sid=service,
        num_segments=original.num_segments,
        case_id=original.case_id,
        reply_to_id=original.reply_to_id,
        operation_id=original.operation_id,
        broadcast_id=original.broadcast_id,
        language=original.language,
        route=route,
        content_sid=original.content_sid,
        content_variables=original.content_variables,
        retry_of_id=original.id,
    )
    resend.set_status(MessageStatus.QUEUED)
    db.session.add(resend)
    db.session.flush()
    enqueue_outbound_after_commit([resend])
    logger.info(
        "message %s: outside the WhatsApp window, resending as %s (%s)",
        original.id,
        route.value,
        resend.id,
    )
    return resend


__all__ = ["FailureReason", "queue_window_fallback"]
