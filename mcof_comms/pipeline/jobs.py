"""RQ entry points for learning: periodic retraining of the sector and safety models.

Runs are aligned on interval boundaries (every 6 hours: 00:00, 06:00 ... UTC) and the job id
names the boundary, so scheduling from several places (``seed_defaults``, ``flask --app app
train --schedule``, the job itself) queues one job per boundary, and each run schedules the
next one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis

from mcof_comms import jobs
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.operations.services import get_taxonomy
from mcof_comms.pipeline.signal_training import train_signals_and_maybe_promote
from mcof_comms.pipeline.training import train_and_maybe_promote

logger = logging.getLogger(__name__)

RETRAIN_INTERVAL = timedelta(hours=6)


def retrain_sector_model(reschedule: bool = True) -> str:
    """Train on new corrections and promote if better; then schedule the next run."""
    taxonomy = get_taxonomy()
    outcome = train_and_maybe_promote(taxonomy)
    db.session.commit()
    signals = train_signals_and_maybe_promote(taxonomy)
    db.session.commit()
    logger.info("retraining: sectors %s; signals %s", outcome.reason, signals.reason)
    if reschedule:
        schedule_retraining(after=utcnow() + timedelta(seconds=1))
    return outcome.reason


def next_boundary(now: datetime, interval: timedelta = RETRAIN_INTERVAL) -> datetime:
    step = interval.total_seconds()
    return datetime.fromtimestamp((now.timestamp() // step + 1) * step, tz=now.tzinfo)


def schedule_retraining(
    *, after: datetime | None = None, interval: timedelta = RETRAIN_INTERVAL
) -> str | None:
    """Queue retraining at the next interval boundary; returns its job id, None without Redis."""
    now = after or utcnow()
    at = next_boundary(now, interval)
    job_id = f"retrain-sector-model-{int(at.timestamp())}"
    try:
        jobs.enqueue(
            jobs.MAINTENANCE,
            "mcof_comms.pipeline.jobs.retrain_sector_model",
            job_id=job_id,
            delay=at - utcnow(),
            retry=None,
        )
    except redis.RedisError:
        logger.warning("queue unavailable; retraining not scheduled")
        return None
    return job_id
