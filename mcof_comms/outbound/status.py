"""Delivery status callbacks, applied monotonically."""

from __future__ import annotations

import logging

from sqlalchemy import or_, select, update

from mcof_comms.channels.base import FailureReason, failure_reason
from mcof_comms.channels.inbound import StatusUpdate
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    STATUS_RANK,
    Channel,
    ContactChannel,
    Direction,
    Message,
    MessageEvent,
    MessageStatus,
)

logger = logging.getLogger(__name__)

#: Twilio's statuses in our vocabulary. Twilio's own queue states all mean "accepted".
PROVIDER_STATUSES: dict[str, MessageStatus] = {
    "accepted": MessageStatus.ACCEPTED,
    "scheduled": MessageStatus.ACCEPTED,
    "queued": MessageStatus.ACCEPTED,
    "sending": MessageStatus.ACCEPTED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "partially_delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "read": MessageStatus.READ,
    "canceled": MessageStatus.CANCELED,
}

#: Error codes that mean the person does not want our messages on that channel.
OPT_OUT_CODES = {21610: "21610", 63014: "63014"}
#: WhatsApp refused free text outside the 24-hour window: resend by template or SMS.
WINDOW_CLOSED_CODE = 63016


def apply_status_update(status_update: StatusUpdate) -> Message | None:
    """Move an outbound message forward; a late or repeated callback changes nothing.

    The callback URL carries our message id, so a callback can also fill in a provider sid that
    a crash kept us from recording.
    """
    new_status = PROVIDER_STATUSES.get(status_update.status)
    query = select(Message).where(Message.direction == Direction.OUT)
    if status_update.message_id is not None:
        query = query.where(
            Message.id == status_update.message_id,
            or_(Message.external_id.is_(None), Message.external_id == status_update.external_id),
        )
    else:
        query = query.where(Message.external_id == status_update.external_id)
    message = db.session.scalars(query).one_or_none()
    if message is None:
        logger.info("status callback for an unknown message (%s)", status_update.status)
        return None
    applied = False
    if new_status is not None:
        rank = STATUS_RANK[new_status]
        values: dict[str, object] = {
            "status": new_status,
            "status_rank": rank,
            "provider_status": status_update.status,
            "external_id": status_update.external_id,
            "updated_at": utcnow(),
        }
        if status_update.error_code is not None:
            values["error_code"] = status_update.error_code
            values["failure_reason"] = failure_reason(status_update.error_code).value
        result = db.session.execute(
            update(Message)
            .where(Message.id == message.id, Message.status_rank < rank)
            .values(**values)
            .returning(Message.id)
        )
        applied = result.scalar_one_or_none() is not None
    if not applied and status_update.error_code is not None and message.error_code is None:
        # errors are sticky even when the status itself cannot move
        message.error_code = status_update.error_code
        message.failure_reason = failure_reason(status_update.error_code).value
    db.session.add(
        MessageEvent(
            message_id=message.id,
            status=status_update.status[:32],
            error_code=status_update.error_code,
            applied=applied,
        )
    )
    if status_update.error_code in OPT_OUT_CODES:
        opt_out_channel(message, source=OPT_OUT_CODES[status_update.error_code])
    if status_update.error_code == WINDOW_CLOSED_CODE:
        from mcof_comms.outbound.fallback import queue_window_fallback

        db.session.flush()
        queue_window_fallback(message.id)  # by template, else SMS; sent once committed
    db.session.flush()
    db.session.refresh(message)
    return message


def opt_out_channel(message: Message, *, source: str) -> None:
    """The provider told us this person refuses our messages on this channel: remember it."""
    channel = db.session.scalars(
        select(ContactChannel).where(
            ContactChannel.contact_id == message.contact_id,
            ContactChannel.channel == message.channel,
        )
    ).one_or_none()
    if channel is not None and not channel.opted_out:
        channel.opted_out_at = utcnow()
        channel.opt_out_source = source
        logger.info("contact %s opted out on %s (%s)", message.contact_id, message.channel, source)
    skip_queued_after_opt_out(message.contact_id, message.channel)


def skip_queued_after_opt_out(contact_id: int, channel: Channel) -> int:
    """Withdraw what still waits to be sent to someone who just opted out on ``channel``.

    The send job checks consent before it paces a batch; a row already checked can wait
    minutes for its turn at a slow sender, and must not go out after a STOP in between.
    """
    now = utcnow()
    result = db.session.execute(
        update(Message)
        .where(
            Message.contact_id == contact_id,
            Message.channel == channel,
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.QUEUED,
        )
        .values(
            status=MessageStatus.SKIPPED,
            status_rank=STATUS_RANK[MessageStatus.SKIPPED],
            failure_reason=FailureReason.OPTED_OUT.value,
            updated_at=now,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())


__all__ = [
    "PROVIDER_STATUSES",
    "FailureReason",
    "apply_status_update",
    "opt_out_channel",
    "skip_queued_after_opt_out",
]
