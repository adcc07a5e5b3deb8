"""Fan a broadcast out: stream the audience in batches, insert one queued row per recipient.

Resumable: each batch's rows and the cursor (last contact id) commit together, and the rows
are unique per (broadcast, contact), so a fan-out restarted after a crash continues where it
stopped and never queues anyone twice. Sending is the bulk jobs' work (one per id range), so a
reply on the ``replies`` queue always goes first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import func, select, text

from mcof_comms import jobs
from mcof_comms.broadcasts.audience import iter_recipients
from mcof_comms.broadcasts.render import pick_language, render_template_variables
from mcof_comms.broadcasts.services import _timezone, choose_template, rendered_texts
from mcof_comms.db import insert_for, utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Broadcast,
    BroadcastStatus,
    Channel,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from mcof_comms.outbound.segments import count_segments
from mcof_comms.outbound.services import (
    BUCKET_SIZE,
    enqueue_bucket,
    sender_address,
)

logger = logging.getLogger(__name__)

BATCH = 1000
#: The partial unique index that makes a resumed fan-out insert nothing twice.
ONE_PER_CONTACT = "broadcast_id IS NOT NULL AND retry_of_id IS NULL"


def enqueue_fan_out(broadcast_id: int, delay: timedelta | None = None) -> bool:
    """Queue the fan-out once (a waiting or running one is left alone); False if Redis is down."""
    try:
        job = jobs.enqueue(
            jobs.BROADCASTS,
            "mcof_comms.broadcasts.jobs.fan_out_broadcast",
            broadcast_id,
            job_id=f"broadcast-{broadcast_id}"
            + (f"-at-{int(delay.total_seconds())}" if delay else ""),
            delay=delay,
        )
    except redis.RedisError:
        logger.warning("queue unavailable; broadcast %s waits for the sweeper", broadcast_id)
        return False
    return job is not None


def _status(broadcast_id: int) -> BroadcastStatus | None:
    value = db.session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id))
    return BroadcastStatus(value) if value is not None else None


def fan_out_broadcast(broadcast_id: int) -> None:
    """Queue one message per recipient, batch by batch; resumes from the cursor."""
    broadcast = db.session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return
    now = utcnow()
    if broadcast.status is BroadcastStatus.SCHEDULED:
        if broadcast.scheduled_at is not None and broadcast.scheduled_at > now:
            db.session.rollback()
            enqueue_fan_out(broadcast_id, delay=broadcast.scheduled_at - now)
            return
        broadcast.status = BroadcastStatus.SENDING
        broadcast.started_at = broadcast.started_at or now
        db.session.commit()
    if broadcast.status is not BroadcastStatus.SENDING:
        db.session.rollback()
        return
    _resume_queued(broadcast_id)
    operation = broadcast.operation
    texts = rendered_texts(broadcast)
    tz = _timezone(operation)
    templates: dict[str, tuple[str, dict[str, str]] | None] = {}
    for language in texts:
        template = choose_template(broadcast, language)
        templates[language] = (
            (
                str(template["content_sid"]),
                render_template_variables(
                    template.get("variables", {}), language, broadcast.variables, tz
                ),
            )
            if template
            else None
        )
    segments = {language: count_segments(text).segments for language, text in texts.items()}
    senders = {channel: sender_address(channel, operation_id=operation.id) for channel in Channel}
    audience, translations = dict(broadcast.audience), dict(broadcast.translations)
    default_language, base = operation.default_language, broadcast.base_language
    cursor = broadcast.cursor_contact_id
    queued = 0
    for batch in iter_recipients(audience, operation, after_contact_id=cursor, batch=BATCH):
        if _status(broadcast_id) is not BroadcastStatus.SENDING:
            logger.info("broadcast %s stopped during fan-out", broadcast_id)
            db.session.rollback()
            return
        if not batch:
            continue
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for recipient in batch:
            language = pick_language(recipient.language, translations, default_language, base)
            from_, service = senders[recipient.channel]
            template = templates[language] if recipient.channel is Channel.WHATSAPP else None
            rows.append(
                {
                    "direction": Direction.OUT.value,
                    "channel": recipient.channel.value,
                    "kind": MessageKind.BROADCAST.value,
                    "status": MessageStatus.QUEUED.value,
                    "status_rank": 0,
                    "contact_id": recipient.contact_id,
                    "body": texts[language],
                    "to_address": recipient.address,
                    "from_address": from_,
                    "messaging_service_sid": service,
                    "num_segments": segments[language],
                    "broadcast_id": broadcast_id,
                    "operation_id": operation.id,
                    "language": language,
                    "content_sid": template[0] if template else None,
                    "content_variables": template[1] if template else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        table = Message.__table__
        connection = db.session.connection()
        # executemany, not RETURNING: psycopg pipelines it, where a 1000-row multi-VALUES
        # statement costs more to build than to run
        connection.execute(
            insert_for(connection, table).on_conflict_do_nothing(
                index_elements=["broadcast_id", "contact_id"],
                index_where=text(ONE_PER_CONTACT),
            ),
            rows,
        )
        first, last = db.session.execute(
            select(func.min(table.c.id), func.max(table.c.id)).where(
                table.c.broadcast_id == broadcast_id,
                table.c.retry_of_id.is_(None),
                table.c.contact_id > cursor,
                table.c.contact_id <= batch[-1].contact_id,
            )
        ).one()
        cursor = batch[-1].contact_id
        db.session.execute(
            Broadcast.__table__.update()
            .where(Broadcast.__table__.c.id == broadcast_id)
            .values(cursor_contact_id=cursor, updated_at=now)
        )
        db.session.commit()
        if first is not None:
            queued += len(rows)
            _enqueue_buckets(range(first // BUCKET_SIZE, last // BUCKET_SIZE + 1))
    broadcast = db.session.get_one(Broadcast, broadcast_id)
    if broadcast.status is BroadcastStatus.SENDING:
        broadcast.status = BroadcastStatus.SENT
        broadcast.finished_at = utcnow()
    db.session.commit()
    logger.info("broadcast %s fanned out: %s messages queued", broadcast_id, queued)


def _enqueue_buckets(buckets: range) -> None:
    """Queue the bulk jobs for these id ranges (a range with no rows of ours costs one query)."""
    try:
        for bucket in buckets:
            enqueue_bucket(bucket)
    except redis.RedisError:
        logger.warning("queue unavailable; queued broadcast messages wait for the sweeper")


def _resume_queued(broadcast_id: int) -> None:
    """After a crash: enqueue the ranges of rows already queued but maybe never enqueued."""
    buckets = sorted(
        db.session.scalars(
            select(func.distinct(Message.id // BUCKET_SIZE)).where(
                Message.broadcast_id == broadcast_id,
                Message.status.in_([MessageStatus.QUEUED, MessageStatus.SENDING]),
            )
        )
    )
    try:
        for bucket in buckets:
            enqueue_bucket(int(bucket))
    except redis.RedisError:
        logger.warning("queue unavailable; broadcast %s resumes with the sweeper", broadcast_id)
