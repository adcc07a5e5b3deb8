"""RQ entry points for inbound messages."""

from __future__ import annotations

import logging

import redis

from mcof_comms import jobs
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import Message, MessageStatus

logger = logging.getLogger(__name__)


def process_inbound_message(message_id: int) -> None:
    """Process one inbound message. Idempotent: a repeat finds it past RECEIVED and stops."""
    message = db.session.get(Message, message_id, with_for_update=True)
    if message is None or message.status is not MessageStatus.RECEIVED:
        db.session.rollback()
        return
    from mcof_comms.inbound.services import INTAKE, keep_intake_review
    from mcof_comms.pipeline.services import run_pipeline

    intake = (message.triage or {}).get(INTAKE)
    run_pipeline(message)
    if intake:
        keep_intake_review(message, intake)
    message.set_status(MessageStatus.PROCESSED)
    message.processed_at = utcnow()
    db.session.commit()
    logger.info("processed message %s", message_id)


def enqueue_process_inbound_message(message_id: int, *, first: bool = False) -> bool:
    """Queue processing; False when Redis is unreachable (the sweeper will pick it up).

    ``first``: the caller just inserted the row, so no job can exist yet for it.
    """
    try:
        jobs.enqueue(
            jobs.INBOUND,
            "mcof_comms.inbound.jobs.process_inbound_message",
            message_id,
            job_id=f"inbound-{message_id}",
            unique=not first,
        )
    except redis.RedisError:
        logger.warning("queue unavailable; message %s waits for the sweeper", message_id)
        return False
    return True
