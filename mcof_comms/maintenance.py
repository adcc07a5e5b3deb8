"""Periodic recovery: re-enqueue whatever a crash or an outage left behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from config import Settings
from mcof_comms.extensions import db

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    inbound: int = 0
    outbound: int = 0


def sweep(older_than_seconds: int | None = None) -> SweepResult:
    """Re-enqueue rows stuck before their next stage; enqueueing is idempotent, so it is safe
    to run anywhere, any time, as often as wanted."""
    from mcof_comms.inbound.jobs import enqueue_process_inbound_message
    from mcof_comms.inbound.services import list_stuck_inbound

    settings: Settings = current_app.extensions["mcof_settings"]
    age = settings.stuck_after_seconds if older_than_seconds is None else older_than_seconds
    inbound_ids = list_stuck_inbound(age)
    db.session.rollback()  # end the read transaction before talking to Redis
    inbound = sum(1 for message_id in inbound_ids if enqueue_process_inbound_message(message_id))
    from mcof_comms.outbound.services import requeue_stuck_outbound

    outbound = requeue_stuck_outbound(age)
    from mcof_comms.pipeline.jobs import schedule_retraining

    schedule_retraining()  # idempotent: one job per interval boundary
    from mcof_comms.cases.alerts import escalate_overdue

    escalated = escalate_overdue()  # backstop for a lost escalation job
    if escalated:
        logger.warning("sweeper escalated %s life-threatening alert(s)", escalated)
    if inbound or outbound:
        logger.warning("sweeper re-enqueued %s inbound and %s outbound messages", inbound, outbound)
    return SweepResult(inbound, outbound)
