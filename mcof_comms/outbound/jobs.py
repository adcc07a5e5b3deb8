"""RQ entry points for outbound sends. Idempotent: a repeat finds its rows past ``QUEUED``."""

from __future__ import annotations

import logging
import time

from mcof_comms.outbound.dispatch import Dispatcher, RetryLater, bucket_chunks
from mcof_comms.outbound.services import BUCKET_SIZE, enqueue_bucket

logger = logging.getLogger(__name__)

#: A bulk job stops taking new rows after this long (checked between paced groups of at most a
#: second's worth) and queues its continuation, well inside RQ's job timeout, so a slow
#: (rate-limited) range never gets killed mid-send. It also stops early for replies.
TIME_BUDGET_SECONDS = 200


def send_outbound_message(message_id: int) -> None:
    """Send one reply or acknowledgement."""
    stats = Dispatcher().run([[message_id]])
    if stats.retry or stats.busy:
        raise RetryLater(f"message {message_id} will be tried again")


def send_outbound_bucket(bucket: int) -> None:
    """Send every unsent broadcast row whose id falls in this bucket, overlapping requests."""
    lo, hi = bucket * BUCKET_SIZE, (bucket + 1) * BUCKET_SIZE
    dispatcher = Dispatcher(deadline=time.monotonic() + TIME_BUDGET_SECONDS, bulk=True)
    stats = dispatcher.run(bucket_chunks(lo, hi))
    logger.info(
        "bucket %s: %s accepted, %s failed, %s skipped, %s canceled, %s reconciled",
        bucket,
        stats.accepted,
        stats.failed,
        stats.skipped,
        stats.canceled,
        stats.reconciled,
    )
    if stats.more:
        enqueue_bucket(bucket, suffix=f"-more-{time.time_ns()}")
        return
    if stats.retry or stats.busy:
        raise RetryLater(f"bucket {bucket}: {stats.retry + stats.busy} messages to try again")
