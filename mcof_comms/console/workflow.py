"""Case actions taken in the console: assign, relabel, note, move through the workflow, reply.

Each action writes a ``CaseEvent`` (the case's own history) and an audit entry, flushes, and
leaves the commit to the view. Where the triage and outbound work provide a service
(``mcof_comms.cases.services.relabel_case``, ``mcof_comms.outbound.services.queue_outbound``),
it is used, so corrections feed training and sends take the one sending path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from mcof_comms import audit
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    Direction,
    FeedbackType,
    Message,
    MessageKind,
    Urgency,
    User,
)

logger = logging.getLogger(__name__)


class WorkflowError(ValueError):
    """An action that the case's state does not allow; the message is shown to the user."""


#: Where a case may go from each status (closing and reopening included).
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.IN_PROGRESS: frozenset(
        {CaseStatus.REFERRED, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.REFERRED: frozenset(
        {CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset({CaseStatus.IN_PROGRESS}),
}


def _event(case: Case, actor: User | None, kind: str, **detail: Any) -> None:
    db.session.add(
        CaseEvent(case_id=case.id, actor_id=actor.id if actor else None, kind=kind, detail=detail)
    )
    audit.record(actor, f"case.{kind}", "case", case.id, **detail)


def assign_case(case: Case, actor: User, assignee: User | None) -> None:
    before = case.assignee_id
    case.assignee_id = assignee.id if assignee else None
    if case.status is CaseStatus.NEW and assignee is not None:
        case.status = CaseStatus.IN_PROGRESS
    _event(case, actor, "assign", before=before, after=case.assignee_id)
    db.session.flush()


def relabel(
    case: Case,
    actor: User,
    *,
    sector: str | None = None,
    feedback_type: FeedbackType | None = None,
    urgency: Urgency | None = None,
    shown: Mapping[str, str] | None = None,
) -> None:
    """Correct triage. Through the triage service when present, so the correction trains it.

    Only what the reviewer changed is corrected: a value equal to the one the form showed
    (``shown``, by field name) is left alone, as is one equal to the case's current value.
    """
    shown = shown or {}
    changes = {
        k: v
        for k, v in (("sector", sector), ("feedback_type", feedback_type), ("urgency", urgency))
        if v is not None and _plain(v) != shown.get(k) and v != getattr(case, k)
    }
    if not changes:
        return
    from mcof_comms.cases.services import relabel_case

    try:
        relabel_case(case, actor, **changes)  # records the event, the audit and the training
    except ValueError as exc:  # a sector the taxonomy does not know
        raise WorkflowError("unknown sector") from exc
    db.session.flush()


def _plain(value: object) -> object:
    return getattr(value, "value", value)


def add_note(case: Case, actor: User, text: str) -> None:
    text = text.strip()
    if not text:
        raise WorkflowError("empty note")
    db.session.add(
        CaseEvent(case_id=case.id, actor_id=actor.id, kind="note", detail={"text": text})
    )
    audit.record(actor, "case.note", "case", case.id)
    db.session.flush()


def confirm_triage(case: Case, actor: User) -> None:
    """Take a case out of the review queue as triaged."""
    case.needs_review = False
    _event(case, actor, "review", confirmed=True)
    db.session.flush()


def has_response(case: Case) -> bool:
    """True once someone answered the person (a reply, not an automatic acknowledgement)."""
    if case.first_response_at is not None:
        return True
    return (
        db.session.scalar(
            select(Message.id).where(
                Message.case_id == case.id,
                Message.direction == Direction.OUT,
                Message.kind.in_([MessageKind.REPLY, MessageKind.BROADCAST]),
            )
        )
        is not None
    )


def change_status(
    case: Case,
    actor: User,
    status: CaseStatus,
    *,
    partner: str | None = None,
    note: str | None = None,
    reason: str | None = None,
) -> list[int]:
    """Move a case along new -> in progress -> referred -> resolved -> closed.

    Referring names a partner. Closing needs a response to the person, or a reason why none was
    needed (closing the loop). Where the operation asks for it (``settings["notify_resolved"]``)
    the person gets a localized "your case is resolved" notice; returns the ids of messages
    queued, to enqueue after commit.
    """
    if status is case.status:
        return []
    if status not in TRANSITIONS[case.status]:
        raise WorkflowError("transition not allowed")
    detail: dict[str, Any] = {"before": case.status.value, "after": status.value}
    now = utcnow()
    if status is CaseStatus.REFERRED:
        partner = (partner or case.referral_partner or "").strip()
        if not partner:
            raise WorkflowError("partner required")
        case.referral_partner = partner
        detail.update(partner=partner, note=(note or "").strip() or None)
    if status is CaseStatus.RESOLVED:
        case.resolved_at = now
    if status is CaseStatus.CLOSED:
        reason = (reason or "").strip() or None
        if reason is None and not has_response(case):
            raise WorkflowError("response or reason required")
        case.closure_reason = reason
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
        detail["reason"] = reason
    if case.status is CaseStatus.CLOSED:  # reopening
        case.closed_at = None
    notify = status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) and case.status not in (
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    )
    case.status = status
    _event(case, actor, "refer" if status is CaseStatus.REFERRED else "status", **detail)
    db.session.flush()
    if notify and (case.operation.settings or {}).get("notify_resolved"):
        notice = queue_resolved_notice(case)
        return [notice.id] if notice is not None else []
    return []


def queue_resolved_notice(case: Case) -> Message | None:
    """The loop-closing notice, in the person's language, on the channel they last wrote on."""
    from flask_babel import force_locale

    from mcof_comms.cases.outbox import queue_system_message
    from mcof_comms.outbound.texts import case_resolved

    last_in = db.session.scalars(
        select(Message)
        .where(Message.case_id == case.id, Message.direction == Direction.IN)
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if last_in is None:
        return None
    language = case.language or case.contact.language or case.operation.default_language
    days = max((utcnow() - case.created_at).days, 0)
    with force_locale(language):
        body = case_resolved(case.reference, days)
    return queue_system_message(
        last_in, body, case_id=case.id, operation_id=case.operation_id, language=language
    )


def reply_channel(case: Case) -> Channel:
    """Answer on the channel the person last wrote on."""
    channel = db.session.scalar(
        select(Message.channel)
        .where(Message.case_id == case.id, Message.direction == Direction.IN)
        .order_by(Message.id.desc())
        .limit(1)
    )
    if channel is not None:
        return channel
    return case.contact.channels[0].channel if case.contact.channels else Channel.SMS


def reply_to_case(case: Case, actor: User, body: str) -> Message:
    """Queue a reply to the person behind a case; the view commits, then enqueues the send."""
    body = body.strip()
    if not body:
        raise WorkflowError("empty reply")
    channel = reply_channel(case)
    last_in = db.session.scalar(
        select(Message.id)
        .where(Message.case_id == case.id, Message.direction == Direction.IN)
        .order_by(Message.id.desc())
        .limit(1)
    )
    from mcof_comms.outbound.services import reply_to_contact

    try:
        message = reply_to_contact(
            case.contact,
            body,
            actor=actor,
            channel=channel,
            case_id=case.id,
            reply_to_id=last_in,
            operation_id=case.operation_id,
        )
    except ValueError as exc:  # OutboundError: opted out, no address, too long
        raise WorkflowError("cannot send") from exc
    now = utcnow()
    if case.first_response_at is None:
        case.first_response_at = now
    if case.status is CaseStatus.NEW:
        case.status = CaseStatus.IN_PROGRESS
    db.session.flush()
    _event(case, actor, "reply", message_id=message.id)
    db.session.flush()
    return message


def enqueue_send(message_ids: list[int]) -> None:
    """Hand queued messages to the send queue after commit; the sweeper catches any it misses."""
    from mcof_comms.outbound.services import enqueue_outbound

    if not message_ids:
        return
    try:
        enqueue_outbound(message_ids)
    except Exception:  # a queue outage must not lose the committed rows: the sweeper resends
        logger.warning("could not enqueue %d outbound message(s)", len(message_ids))
