"""Queue texts the platform sends back to a sender, and send them once the job commits.

The one seam between cases and the outbound path (``mcof_comms.outbound.services``): its
``queue_outbound`` writes the QUEUED row and ``enqueue_outbound_after_commit`` hands it to the
send queue after the job's transaction commits.
"""

from __future__ import annotations

import logging

from mcof_comms.models import Message, MessageKind

logger = logging.getLogger(__name__)


def queue_system_message(
    inbound: Message,
    body: str,
    *,
    case_id: int | None = None,
    operation_id: int | None = None,
    language: str | None = None,
) -> Message | None:
    """Queue ``body`` to the sender of ``inbound`` on the same channel; flushes, never commits.

    None when the outbound path refuses it (no address on that channel).
    """
    from mcof_comms.outbound import services as outbound

    try:
        reply = outbound.queue_outbound(
            inbound.contact,
            body,
            kind=MessageKind.SYSTEM,
            channel=inbound.channel,
            case_id=case_id,
            reply_to_id=inbound.id,
            operation_id=operation_id,
            priority=True,
            language=language,
        )
    except outbound.OutboundError as exc:
        logger.warning("no reply to message %s: %s", inbound.id, exc)
        return None
    outbound.enqueue_outbound_after_commit([reply])
    return reply
