"""Broadcast use cases: create, preview, send (with approval), cancel, and progress.

Lifecycle (``Broadcast.status``)::

    draft -> pending_approval (above the size limit, until a second user approves)
          -> scheduled (a time in the future) -> sending (fan-out running) -> sent
    any state before sent -> canceled (queued messages are canceled too)

Services add and flush, never commit; the API commits, then calls
:func:`mcof_comms.broadcasts.jobs.enqueue_fan_out`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased

from mcof_comms.broadcasts.audience import (
    AudienceError,
    hides_exclusions,
    iter_recipients,
    validate_audience,
)
from mcof_comms.broadcasts.render import (
    RenderError,
    pick_language,
    render_text,
    text_direction,
    validate_variables,
)
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    STATUS_RANK,
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    Channel,
    Message,
    MessageStatus,
    Operation,
    Role,
    User,
)
from mcof_comms.outbound.segments import count_segments
from mcof_comms.outbound.templates import template_shape_ok

logger = logging.getLogger(__name__)

#: Roles that may create, send and approve broadcasts.
BROADCASTERS = frozenset({Role.ADMIN, Role.RESPONDER})
#: Broadcasts to more recipients than this need a second user's approval (per operation:
#: ``operation.settings["broadcast_approval_threshold"]``; per deployment: app config
#: ``BROADCAST_APPROVAL_THRESHOLD``).
DEFAULT_APPROVAL_THRESHOLD = 1000
#: Estimated price per SMS segment and per WhatsApp message, USD (operation settings
#: ``prices``: {"sms": ..., "whatsapp": ...} override them).
DEFAULT_PRICES = {"sms": Decimal("0.0079"), "whatsapp": Decimal("0.0050")}
MAX_TEXT = 1600

PROGRESS_BUCKETS: dict[MessageStatus, tuple[str, ...]] = {
    MessageStatus.QUEUED: ("queued",),
    MessageStatus.SENDING: ("queued",),
    MessageStatus.ACCEPTED: ("sent",),
    MessageStatus.SENT: ("sent",),
    MessageStatus.DELIVERED: ("sent", "delivered"),
    MessageStatus.READ: ("sent", "delivered", "read"),
    MessageStatus.UNDELIVERED: ("failed",),
    MessageStatus.FAILED: ("failed",),
    MessageStatus.SKIPPED: ("skipped",),
    MessageStatus.CANCELED: ("canceled",),
}
COUNTERS = ("queued", "sent", "delivered", "read", "failed", "skipped", "canceled")


class BroadcastError(ValueError):
    """The request cannot be done: malformed content, wrong state, or the wrong user."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _timezone(operation: Operation) -> str:
    try:
        ZoneInfo(operation.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return operation.timezone or "UTC"


def parse_schedule(value: str | datetime | None, operation: Operation) -> datetime | None:
    """A send time; one without an offset is wall-clock time in the operation's time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BroadcastError("scheduled_at must be an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(_timezone(operation)))
    return value


def _validate_content(
    base_language: str,
    translations: Mapping[str, Any],
    variables: Mapping[str, Any],
    templates: Mapping[str, Any],
) -> None:
    if not isinstance(translations, Mapping) or not translations:
        raise BroadcastError("translations must map languages to texts")
    for language, text in translations.items():
        if not isinstance(text, str) or not text.strip():
            raise BroadcastError(f"translations.{language} must be a non-empty text")
        if len(text) > MAX_TEXT:
            raise BroadcastError(f"translations.{language} is longer than {MAX_TEXT} characters")
    if not translations.get(base_language):
        raise BroadcastError("base_language must have a text in translations")
    if not isinstance(variables, Mapping):
        raise BroadcastError("variables must be an object")
    try:
        validate_variables(variables)
    except RenderError as exc:
        raise BroadcastError(f"variables.{exc}") from exc
    if not isinstance(templates, Mapping):
        raise BroadcastError("templates must be an object")
    for language, template in templates.items():
        if not template_shape_ok(template):
            raise BroadcastError(
                f"templates.{language} needs a content_sid (HX...) and optional variables"
            )


def create_broadcast(
    operation: Operation,
    *,
    actor: User | None,
    base_language: str,
    translations: Mapping[str, str],
    audience: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    templates: Mapping[str, Any] | None = None,
    scheduled_at: str | datetime | None = None,
) -> Broadcast:
    """Add a draft broadcast after checking its texts, variables, templates and audience."""
    variables = variables or {}
    templates = templates or {}
    _validate_content(base_language, translations, variables, templates)
    try:
        clean_audience = validate_audience(audience or {})
    except AudienceError as exc:
        raise BroadcastError(f"audience: {exc}") from exc
    broadcast = Broadcast(
        operation_id=operation.id,
        created_by_id=actor.id if actor is not None else None,
        status=BroadcastStatus.DRAFT,
        base_language=base_language,
        translations=dict(translations),
        variables=dict(variables),
        templates={k: dict(v) for k, v in templates.items()},
        audience=clean_audience,
        scheduled_at=parse_schedule(scheduled_at, operation),
    )
    db.session.add(broadcast)
    db.session.flush()
    broadcast.operation = operation
    _audit(actor, "broadcast_create", broadcast)
    return broadcast


def _audit(actor: User | None, action: str, broadcast: Broadcast) -> None:
    db.session.add(
        AuditEntry(
            user_id=actor.id if actor is not None else None,
            action=action,
            object_type="broadcast",
            object_id=broadcast.id,
            detail={"status": broadcast.status.value},
        )
    )


def rendered_texts(broadcast: Broadcast) -> dict[str, str]:
    """Each language's text with the variables filled in that language's way."""
    tz = _timezone(broadcast.operation)
    return {
        language: render_text(text, language, broadcast.variables, tz)
        for language, text in broadcast.translations.items()
    }


def choose_template(broadcast: Broadcast, language: str) -> Mapping[str, Any] | None:
    templates = broadcast.templates or {}
    found = templates.get(language) or templates.get(broadcast.base_language)
    return found if isinstance(found, Mapping) else None


def preview_broadcast(broadcast: Broadcast) -> dict[str, Any]:
    """Recipients per language and channel, segments, estimated cost; streams the audience."""
    operation = broadcast.operation
    texts = rendered_texts(broadcast)
    prices = {**DEFAULT_PRICES}
    for key, value in (operation.settings or {}).get("prices", {}).items():
        prices[key] = Decimal(str(value))
    groups: dict[tuple[str, str], int] = defaultdict(int)
    total = 0
    exclusions = not hides_exclusions(broadcast.audience)
    for batch in iter_recipients(broadcast.audience, operation, exclusions=exclusions):
        for recipient in batch:
            language = pick_language(
                recipient.language,
                broadcast.translations,
                operation.default_language,
                broadcast.base_language,
            )
            groups[(language, recipient.channel.value)] += 1
            total += 1
    by_language: dict[str, dict[str, Any]] = {}
    cost = Decimal(0)
    segments_total = 0
    for (language, channel), count in sorted(groups.items()):
        segments = count_segments(texts[language])
        entry = by_language.setdefault(
            language,
            {
                "recipients": 0,
                "channels": {},
                "segments": segments.segments,
                "encoding": segments.encoding.value,
                "characters": len(texts[language]),
                "direction": text_direction(language),
                "text": texts[language],
            },
        )
        entry["recipients"] += count
        entry["channels"][channel] = count
        if channel == Channel.SMS.value:
            segments_total += segments.segments * count
            cost += prices["sms"] * segments.segments * count
        else:
            cost += prices["whatsapp"] * count
    broadcast.recipient_count = total
    threshold = approval_threshold(operation)
    return {
        "recipients": total,
        "languages": by_language,
        "channels": {
            channel: sum(n for (_, c), n in groups.items() if c == channel)
            for channel in sorted({c for _, c in groups})
        },
        "sms_segments": segments_total,
        "estimated_cost": {"amount": str(cost.quantize(Decimal("0.01"))), "currency": "USD"},
        "approval_threshold": threshold,
        "needs_approval": total > threshold,
    }


def approval_threshold(operation: Operation) -> int:
    configured = (operation.settings or {}).get("broadcast_approval_threshold")
    if configured is None:
        configured = current_app.config.get(
            "BROADCAST_APPROVAL_THRESHOLD", DEFAULT_APPROVAL_THRESHOLD
        )
    return int(configured)


def _start(broadcast: Broadcast) -> None:
    now = utcnow()
    if broadcast.scheduled_at is not None and broadcast.scheduled_at > now:
        broadcast.status = BroadcastStatus.SCHEDULED
    else:
        broadcast.status = BroadcastStatus.SENDING
        broadcast.started_at = broadcast.started_at or now


def request_send(broadcast: Broadcast, *, actor: User | None) -> dict[str, Any]:
    """Ask to send: above the size limit it waits for approval; returns the preview."""
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.PENDING_APPROVAL):
        raise BroadcastError(f"a {broadcast.status.value} broadcast cannot be sent", status=409)
    preview = preview_broadcast(broadcast)
    if preview["recipients"] == 0:
        raise BroadcastError("the audience is empty", status=409)
    if preview["needs_approval"] and broadcast.approved_by_id is None:
        broadcast.status = BroadcastStatus.PENDING_APPROVAL
    else:
        _start(broadcast)
    _audit(actor, "broadcast_send", broadcast)
    return preview


def approve_broadcast(broadcast: Broadcast, *, actor: User) -> None:
    """A second user approves; a broadcast waiting for approval then starts."""
    if broadcast.status not in (BroadcastStatus.DRAFT, BroadcastStatus.PENDING_APPROVAL):
        raise BroadcastError(f"a {broadcast.status.value} broadcast cannot be approved", status=409)
    if broadcast.created_by_id is not None and broadcast.created_by_id == actor.id:
        raise BroadcastError("a broadcast must be approved by someone else", status=403)
    broadcast.approved_by_id = actor.id
    if broadcast.status is BroadcastStatus.PENDING_APPROVAL:
        _start(broadcast)
    _audit(actor, "broadcast_approve", broadcast)


def cancel_broadcast(broadcast: Broadcast, *, actor: User | None) -> int:
    """Stop the fan-out and cancel every message not yet handed to the provider."""
    if broadcast.status in (BroadcastStatus.CANCELED, BroadcastStatus.FAILED):
        raise BroadcastError(f"the broadcast is already {broadcast.status.value}", status=409)
    now = utcnow()
    broadcast.status = BroadcastStatus.CANCELED
    broadcast.canceled_at = now
    result = db.session.execute(
        update(Message)
        .where(Message.broadcast_id == broadcast.id, Message.status == MessageStatus.QUEUED)
        .values(
            status=MessageStatus.CANCELED,
            status_rank=STATUS_RANK[MessageStatus.CANCELED],
            updated_at=now,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    canceled = len(result.all())
    _audit(actor, "broadcast_cancel", broadcast)
    logger.info("broadcast %s canceled; %s queued messages canceled", broadcast.id, canceled)
    return canceled


def broadcast_progress(broadcast: Broadcast) -> dict[str, Any]:
    """Counts per language: queued, sent, delivered, read, failed, skipped, canceled.

    One row per recipient: a message resent after a WhatsApp window failure counts as its
    resend. Derived from the rows that status callbacks move forward.
    """
    resend = aliased(Message)
    rows = db.session.execute(
        select(Message.language, Message.status, func.count(Message.id))
        .where(
            Message.broadcast_id == broadcast.id,
            ~exists().where(resend.retry_of_id == Message.id),
        )
        .group_by(Message.language, Message.status)
    ).all()
    per_language: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(COUNTERS, 0)
    for language, status, count in rows:
        entry = per_language.setdefault(language or "", dict.fromkeys(COUNTERS, 0))
        for bucket in PROGRESS_BUCKETS.get(MessageStatus(status), ()):
            entry[bucket] += count
            totals[bucket] += count
    return {"total": totals, "languages": per_language}


def broadcast_json(broadcast: Broadcast, *, progress: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": broadcast.id,
        "operation": broadcast.operation.slug,
        "status": broadcast.status.value,
        "base_language": broadcast.base_language,
        "translations": broadcast.translations,
        "variables": broadcast.variables,
        "templates": broadcast.templates,
        "audience": broadcast.audience,
        "scheduled_at": _iso(broadcast.scheduled_at),
        "started_at": _iso(broadcast.started_at),
        "finished_at": _iso(broadcast.finished_at),
        "canceled_at": _iso(broadcast.canceled_at),
        "recipient_count": broadcast.recipient_count,
        "created_by": broadcast.created_by_id,
        "approved_by": broadcast.approved_by_id,
        "created_at": _iso(broadcast.created_at),
    }
    if progress:
        data["progress"] = broadcast_progress(broadcast)
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_unfinished_broadcasts(older_than: datetime) -> list[int]:
    """Broadcasts whose fan-out should be running: due schedules, and stalled fan-outs."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(Broadcast.id).where(
                or_(
                    (Broadcast.status == BroadcastStatus.SCHEDULED)
                    & (Broadcast.scheduled_at <= now),
                    (Broadcast.status == BroadcastStatus.SENDING)
                    & (Broadcast.updated_at <= older_than),
                )
            )
        )
    )


__all__ = [
    "BROADCASTERS",
    "AudienceError",
    "BroadcastError",
    "approve_broadcast",
    "broadcast_json",
    "broadcast_progress",
    "cancel_broadcast",
    "create_broadcast",
    "list_unfinished_broadcasts",
    "preview_broadcast",
    "request_send",
]
