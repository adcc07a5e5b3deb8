"""Life-threatening alerts: one per case, on the console and by SMS or WhatsApp to on-call staff.

When a case becomes life-threatening (triage, a follow-up message, or a correction) the case gets
one alert: every console page of the operation's case workers shows it until someone
acknowledges it, and the operation's primary on-call number is paged through the one sending
path (``queue_outbound``, ``replies`` queue). The page carries the case reference and a link,
never the message nor the sender's number. If nobody acknowledges within the operation's
escalation delay, the secondary number is paged: a delayed RQ job, with the sweeper as a
backstop. Every step is a case event and an audit entry. Services flush, never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config import Settings
from mcof_comms import audit, jobs
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    Contact,
    ContactChannel,
    Message,
    MessageKind,
    Operation,
    Role,
    User,
)

logger = logging.getLogger(__name__)

#: Contacts that are on-call staff, not people writing in: never in a broadcast audience.
STAFF_TAG = "mcof:on_call"
PRIMARY = "primary"
SECONDARY = "secondary"
#: Keys of an operation's ``settings`` this module reads (config/operations.example.yaml).
ALERT_SETTING_KEYS = ("emergency_number", "on_call_primary", "on_call_secondary")
MAX_ESCALATION_MINUTES = 24 * 60
_SCHEDULE_KEY = "mcof_escalations_after_commit"


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class OnCall:
    """An operation's alerting configuration, with the deployment's default delay filled in."""

    primary: str | None
    secondary: str | None
    emergency_number: str | None
    escalation: timedelta


def normalize_on_call(value: object) -> str | None:
    """``+E164`` (SMS) or ``whatsapp:+E164``, normalized; None when empty; ValueError when not
    a possible number."""
    raw = str(value or "").strip().replace(" ", "")
    if not raw:
        return None
    prefix = ""
    if raw.startswith("whatsapp:"):
        prefix, raw = "whatsapp:", raw.split(":", 1)[1]
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ValueError("expected +E164 or whatsapp:+E164") from None
    if not raw.startswith("+") or not phonenumbers.is_possible_number(number):
        raise ValueError("expected +E164 or whatsapp:+E164")
    return prefix + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_alert_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalize the alert keys of an operation's settings (the YAML loader and
    the console both call this). Raises ValueError naming the key."""
    cleaned: dict[str, Any] = {}
    for key in ("on_call_primary", "on_call_secondary"):
        if key in values:
            try:
                cleaned[key] = normalize_on_call(values[key])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    if "emergency_number" in values:
        number = str(values["emergency_number"] or "").strip()
        if len(number) > 32:
            raise ValueError("emergency_number: at most 32 characters")
        cleaned["emergency_number"] = number or None
    if "escalation_minutes" in values:
        raw = values["escalation_minutes"]
        if raw in (None, ""):
            cleaned["escalation_minutes"] = None
        else:
            try:
                minutes = int(raw)
            except (TypeError, ValueError):
                minutes = 0
            if not 1 <= minutes <= MAX_ESCALATION_MINUTES:
                raise ValueError(
                    f"escalation_minutes: a whole number from 1 to {MAX_ESCALATION_MINUTES}"
                )
            cleaned["escalation_minutes"] = minutes
    if cleaned.get("on_call_secondary") and cleaned.get("on_call_secondary") == cleaned.get(
        "on_call_primary"
    ):
        raise ValueError("on_call_secondary: must differ from on_call_primary")
    return cleaned


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mcof_settings"]
    return settings


def on_call_of(operation_settings: Mapping[str, Any] | None) -> OnCall:
    values = operation_settings or {}
    minutes = values.get("escalation_minutes") or _settings().escalation_minutes
    return OnCall(
        primary=values.get("on_call_primary") or None,
        secondary=values.get("on_call_secondary") or None,
        emergency_number=values.get("emergency_number") or None,
        escalation=timedelta(minutes=int(minutes)),
    )


def update_alert_settings(operation: Operation, actor: User, values: Mapping[str, Any]) -> None:
    """Set an operation's on-call numbers, emergency number and escalation delay (console);
    audited without the numbers themselves."""
    cleaned = clean_alert_settings(values)
    merged = {**(operation.settings or {}), **cleaned}
    operation.settings = {k: v for k, v in merged.items() if v is not None}
    audit.record(actor, "operation.alert_settings", "operation", operation.id, keys=sorted(cleaned))
    db.session.flush()
    from mcof_comms.operations.services import invalidate_caches

    invalidate_caches()


# --- raising, paging, escalating ------------------------------------------------------------


def _event(case: Case, kind: str, actor: User | None = None, **detail: Any) -> None:
    db.session.add(
        CaseEvent(case_id=case.id, actor_id=actor.id if actor else None, kind=kind, detail=detail)
    )
    audit.record(actor, f"case.{kind}", "case", case.id, **detail)


def raise_life_alert(
    case: Case, *, message: Message | None = None, actor: User | None = None
) -> bool:
    """Raise the case's one life-threatening alert and page the primary on-call number.

    False (and nothing done) when the case already had its alert.
    """
    if case.life_alert_at is not None:
        return False
    now = utcnow()
    case.life_alert_at = now
    case.alerted_at = case.alerted_at or now
    _event(case, "life_alert", actor, message_id=message.id if message else None)
    logger.warning("LIFE-THREATENING ALERT case %s (operation %s)", case.id, case.operation_id)
    operation = db.session.get_one(Operation, case.operation_id)
    on_call = on_call_of(operation.settings)
    page_on_call(case, operation, on_call, PRIMARY)
    _schedule_escalation_after_commit(case.id, on_call.escalation)
    return True


def _channel_of(address: str) -> Channel:
    return Channel.WHATSAPP if address.startswith("whatsapp:") else Channel.SMS


def on_call_contact(address: str) -> Contact:
    """The contact row an on-call number is paged through (tagged as staff, so broadcasts skip
    it); created on first use. Safe when two workers page the same number at once."""
    found = db.session.scalars(
        select(ContactChannel).where(ContactChannel.address == address)
    ).first()
    if found is None:
        phone = address.split(":", 1)[-1]
        try:
            with db.session.begin_nested():
                contact = db.session.scalars(select(Contact).where(Contact.phone == phone)).first()
                if contact is None:
                    contact = Contact(phone=phone, tags=[STAFF_TAG])
                    db.session.add(contact)
                    db.session.flush()
                db.session.add(
                    ContactChannel(
                        contact_id=contact.id, channel=_channel_of(address), address=address
                    )
                )
                db.session.flush()
        except IntegrityError:  # another worker created it first
            pass
        found = db.session.scalars(
            select(ContactChannel).where(ContactChannel.address == address)
        ).one()
    contact = db.session.get_one(Contact, found.contact_id)
    db.session.refresh(contact, ["channels"])
    if STAFF_TAG not in (contact.tags or []):
        contact.tags = [*(contact.tags or []), STAFF_TAG]
    return contact


def case_link(case: Case) -> str | None:
    base = _settings().public_base_url
    return f"{base}/cases/{case.id}" if base else None


def page_on_call(case: Case, operation: Operation, on_call: OnCall, which: str) -> Message | None:
    """Queue the page to the ``which`` (primary or secondary) on-call number; it is sent after
    the caller commits. The case history names which number, never the number itself."""
    from mcof_comms.outbound import services as outbound
    from mcof_comms.outbound import texts

    address = on_call.primary if which == PRIMARY else on_call.secondary
    if address is None:
        _event(case, "page_skipped", to=which, reason="no on-call number configured")
        return None
    contact = on_call_contact(address)
    language = operation.default_language or _settings().default_locale
    with force_locale(language):
        if which == PRIMARY:
            body = texts.on_call_page(case.reference, case_link(case))
        else:
            body = texts.on_call_escalation(case.reference, case_link(case))
    try:
        page = outbound.queue_outbound(
            contact,
            body,
            kind=MessageKind.SYSTEM,
            channel=_channel_of(address),
            operation_id=case.operation_id,
            priority=True,
            language=language,
        )
    except outbound.OutboundError as exc:
        _event(case, "page_failed", to=which, reason=str(exc))
        return None
    outbound.enqueue_outbound_after_commit([page])
    _event(case, "page", to=which, message_id=page.id)
    return page


def _schedule_escalation_after_commit(case_id: int, delay: timedelta) -> None:
    db.session.info.setdefault(_SCHEDULE_KEY, {})[case_id] = delay


def schedule_escalation(case_id: int, delay: timedelta) -> None:
    """A delayed job on the ``replies`` queue; one per case (the sweeper is the backstop)."""
    jobs.enqueue(
        jobs.REPLIES,
        "mcof_comms.cases.alerts.escalate_alert",
        case_id,
        job_id=f"escalate-case-{case_id}",
        delay=max(delay, timedelta(seconds=1)),
    )


@event.listens_for(Session, "after_commit")
def _schedule_committed(session: Session) -> None:
    pending: dict[int, timedelta] | None = session.info.pop(_SCHEDULE_KEY, None)
    for case_id, delay in (pending or {}).items():
        try:
            schedule_escalation(case_id, delay)
        except Exception:  # the alert is committed: the sweeper escalates it when due
            logger.warning("could not schedule the escalation of case %s", case_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_SCHEDULE_KEY, None)


def escalate_if_due(case_id: int, now: datetime | None = None) -> str:
    """Page the secondary number when the case's alert is still unacknowledged after the
    operation's delay. Idempotent (the case row is locked); returns what it did."""
    now = now or utcnow()
    case = db.session.get(Case, case_id, with_for_update=True, populate_existing=True)
    if case is None or case.life_alert_at is None:
        return "no alert"
    if case.life_alert_acknowledged_at is not None:
        return "acknowledged"
    if case.life_alert_escalated_at is not None:
        return "already escalated"
    if case.status is CaseStatus.CLOSED:
        return "closed"
    operation = db.session.get_one(Operation, case.operation_id)
    on_call = on_call_of(operation.settings)
    due = case.life_alert_at + on_call.escalation
    if now < due:
        _schedule_escalation_after_commit(case.id, due - now)
        return "not yet"
    case.life_alert_escalated_at = now
    _event(case, "escalated", after_minutes=int(on_call.escalation.total_seconds() // 60))
    page_on_call(case, operation, on_call, SECONDARY)
    logger.warning("escalated the life-threatening alert of case %s", case.id)
    return "escalated"


def escalate_alert(case_id: int) -> str:
    """RQ job: escalate one case's alert if nobody acknowledged it in time."""
    outcome = escalate_if_due(case_id)
    db.session.commit()
    return outcome


def escalate_overdue(limit: int = 500) -> int:
    """The sweeper's backstop: escalate every alert past its delay (a lost job, a Redis outage).
    Commits per case; returns how many were escalated."""
    floor = utcnow() - timedelta(minutes=1)  # no operation escalates sooner than this
    ids = list(
        db.session.scalars(
            select(Case.id)
            .where(
                Case.life_alert_at.is_not(None),
                Case.life_alert_acknowledged_at.is_(None),
                Case.life_alert_escalated_at.is_(None),
                Case.life_alert_at <= floor,
            )
            .order_by(Case.life_alert_at)
            .limit(limit)
        )
    )
    db.session.rollback()
    escalated = 0
    for case_id in ids:
        if escalate_if_due(case_id) == "escalated":
            escalated += 1
        db.session.commit()
    return escalated


def acknowledge_alert(case: Case, actor: User) -> bool:
    """Someone has the case in hand: the alert leaves every console and escalation stops.
    False when there was no open alert."""
    if not case.life_alert_open:
        return False
    case.life_alert_acknowledged_at = utcnow()
    case.life_alert_acknowledged_by_id = actor.id
    _event(case, "alert_acknowledged", actor)
    db.session.flush()
    return True


# --- who sees an alert ----------------------------------------------------------------------


def alerts_clause(user: User) -> sa.ColumnElement[bool]:
    """Open life-threatening alerts a user's console shows: every case worker of the
    operation; a sensitive case's only to those who may see sensitive cases."""
    from mcof_comms.auth.permissions import CASE_WORKERS, can_see_sensitive
    from mcof_comms.console.services import operation_scope

    if user.role not in CASE_WORKERS:
        return sa.false()
    clauses: list[sa.ColumnElement[bool]] = [
        Case.life_alert_at.is_not(None),
        Case.life_alert_acknowledged_at.is_(None),
        Case.status != CaseStatus.CLOSED,
    ]
    if not can_see_sensitive(user.role):
        clauses.append(Case.sensitive_category.is_(None))
    scope = operation_scope(user)
    if scope is not None:
        clauses.append(Case.operation_id.in_(scope))
    return sa.and_(*clauses)


def open_alerts(user: User, limit: int = 5) -> list[Case]:
    """The oldest open alerts first: the one waiting longest is the most urgent."""
    if user.role is Role.VIEWER or user.role is Role.RESPONDER:
        return []
    return list(
        db.session.scalars(
            select(Case).where(alerts_clause(user)).order_by(Case.life_alert_at).limit(limit)
        )
    )


def may_acknowledge(user: User, case: Case) -> bool:
    return bool(
        db.session.scalar(select(sa.literal(True)).where(Case.id == case.id, alerts_clause(user)))
    )
