"""Cases: open or join, route, alert, acknowledge and relabel. Services flush, never commit.

A case groups one contact's feedback on one topic (its first sector, or none) until it is closed.
A sensitive message never joins a case other staff can see: it joins the contact's open
sensitive case, or opens one that only protection focal points see.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from config import ROOT, Settings
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    URGENCY_RANK,
    AuditEntry,
    Case,
    CaseEvent,
    CaseStatus,
    FeedbackType,
    Message,
    ProtectionStatus,
    Urgency,
    User,
)
from mcof_comms.operations.services import (
    PROTECTION_TEAM,
    REFERRAL_TEAM,
    OperationInfo,
    OperationSetup,
    get_operation_setup,
    get_taxonomy,
)
from mcof_comms.pipeline.routing import Route, SectorSetting, choose_route
from mcof_comms.pipeline.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

#: Letters and digits that cannot be misread on a phone screen or over a phone line.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DEFAULT_ACK_WINDOW = timedelta(hours=24)


# --- references and SLAs --------------------------------------------------------------------


def new_reference() -> str:
    """A short, human-friendly case reference such as ``K7M-4QP``.

    Not checked against the table: 31^6 codes make a clash between two open references
    vanishingly rare, and the unique index turns one into a failed job that RQ retries.
    """
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
    return f"{raw[:3]}-{raw[3:]}"


def compute_due_at(
    taxonomy: Taxonomy,
    start: datetime,
    *,
    feedback_type: FeedbackType,
    urgency: Urgency,
    sensitive: bool,
) -> datetime:
    hours = taxonomy.sla_hours(
        feedback_type=feedback_type.value, urgency=urgency.value, sensitive=sensitive
    )
    return start + timedelta(hours=hours)


# --- filing a triaged message ---------------------------------------------------------------


@dataclass
class Triaged:
    """What triage decided about one message, as the case services need it."""

    sectors: list[dict[str, Any]]  # [{slug, confidence}], best first
    feedback_type: FeedbackType
    urgency: Urgency
    sensitive_category: str | None
    needs_review: bool
    language: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def sector(self) -> str | None:
        return self.sectors[0]["slug"] if self.sectors else None


@dataclass(frozen=True)
class Filed:
    case: Case
    created: bool
    route: Route | None  # None: joined a case and kept its routing
    alerted: bool
    life_alert: bool = False  # this message raised the case's one life-threatening alert


def find_open_case(contact_id: int, sector: str | None, *, sensitive: bool) -> Case | None:
    """The contact's open case to join: on the same sector, or any open sensitive case."""
    # "status <> 'closed'" is the predicate of the partial index ix_case_open_contact_sector
    query = select(Case).where(Case.contact_id == contact_id, Case.status != CaseStatus.CLOSED)
    if sensitive:
        query = query.where(Case.sensitive_category.is_not(None))
    else:
        query = query.where(
            Case.sector.is_(None) if sector is None else Case.sector == sector,
        )
    return db.session.scalars(query.order_by(Case.id.desc()).limit(1)).first()


def _settings_of(setup: OperationSetup, taxonomy: Taxonomy) -> dict[str, SectorSetting]:
    return {
        slug: SectorSetting(
            slug=slug,
            referral=taxonomy.is_referral(slug) if slug in taxonomy.label_slugs else False,
            active=row.active,
            team_id=row.team_id,
            partner=row.partner,
        )
        for slug, row in setup.sectors.items()
    }


def _default_partners(taxonomy: Taxonomy) -> dict[str, str]:
    partners = {slug: cat.partner for slug, cat in taxonomy.referrals.items() if cat.partner}
    for slug, cat in taxonomy.sectors.items():
        partners[slug] = cat.partner or f"{cat.name} partners"
    return partners


def route_case(case: Case, setup: OperationSetup, taxonomy: Taxonomy) -> Route:
    """Decide and apply the case's team, referral partner and quarantine."""
    protection = setup.teams.get(PROTECTION_TEAM)
    referral = setup.teams.get(REFERRAL_TEAM)
    route = choose_route(
        sector=case.sector,
        settings=_settings_of(setup, taxonomy),
        protection_team_id=protection.id if protection else None,
        referral_team_id=referral.id if referral else None,
        sensitive_category=case.sensitive_category,
        life_threatening=case.urgency is Urgency.LIFE_THREATENING,
        default_partners=_default_partners(taxonomy),
    )
    case.team_id = route.team_id
    case.referral_partner = route.partner
    if route.queue.value == "review":
        case.needs_review = True
    return route


def alert_reasons(triaged: Triaged) -> list[str]:
    reasons = []
    if triaged.urgency is Urgency.LIFE_THREATENING:
        reasons.append("life_threatening")
    if triaged.sensitive_category is not None:
        reasons.append(f"sensitive:{triaged.sensitive_category}")
    return reasons


def file_message(
    message: Message,
    triaged: Triaged,
    *,
    setup: OperationSetup,
    taxonomy: Taxonomy,
    will_acknowledge: bool = False,
) -> Filed:
    """Put a triaged inbound message into a case: join the open one or open a new one, route
    it, and raise an alert when it is life-threatening or sensitive.

    The message itself is not changed (the caller stores triage and ``case_id`` on it last,
    so the job writes the message once). ``will_acknowledge`` stamps a new case as
    acknowledged in its INSERT; :func:`acknowledge` then queues the reply.
    """
    now = utcnow()
    sensitive = triaged.sensitive_category is not None
    # while a person has an open sensitive case, everything they write joins it: a follow-up
    # ("please answer me") must not put their story in front of other staff
    case = find_open_case(message.contact_id, triaged.sector, sensitive=True)
    if case is None and not sensitive:
        case = find_open_case(message.contact_id, triaged.sector, sensitive=False)
    due = compute_due_at(
        taxonomy,
        message.created_at or now,
        feedback_type=triaged.feedback_type,
        urgency=triaged.urgency,
        sensitive=sensitive,
    )
    reasons = alert_reasons(triaged)
    created = case is None
    if case is None:
        case = Case(
            reference=new_reference(),
            operation_id=setup.operation.id,
            contact_id=message.contact_id,
            sector=triaged.sector,
            sectors=triaged.sectors,
            status=CaseStatus.NEW,
            feedback_type=triaged.feedback_type,
            sensitive_category=triaged.sensitive_category,
            protection_status=ProtectionStatus.PENDING if sensitive else None,
            needs_review=triaged.needs_review,
            language=triaged.language,
            due_at=due,
            last_message_at=now,
            alerted_at=now if reasons else None,
            acknowledged_at=now if will_acknowledge else None,
        )
        case.set_urgency(triaged.urgency)
        route: Route | None = route_case(case, setup, taxonomy)
        db.session.add(case)
        db.session.flush()
        assert route is not None  # noqa: S101 - for the type checker
        _event(case, "opened", message_id=message.id, queue=route.queue.value, why=route.reason)
    else:
        rejoin = _join(case, message, triaged, due, now)
        route = route_case(case, setup, taxonomy) if rejoin else None
    if reasons:
        raise_alert(case, message, reasons)
    life_alert = False
    if case.urgency is Urgency.LIFE_THREATENING:
        from mcof_comms.cases.alerts import raise_life_alert

        life_alert = raise_life_alert(case, message=message)  # once per case
    logger.info(
        "message %s %s case %s (team %s)",
        message.id,
        "opened" if created else "joined",
        case.id,
        case.team_id,
    )
    return Filed(case, created, route, bool(reasons), life_alert)


def _join(case: Case, message: Message, triaged: Triaged, due: datetime, now: datetime) -> bool:
    """Merge a new message into an open case; True when the case must be routed again."""
    reroute = False
    if case.status is CaseStatus.RESOLVED:
        case.status = CaseStatus.IN_PROGRESS
        case.resolved_at = None
        _event(case, "status", message_id=message.id, to=CaseStatus.IN_PROGRESS.value)
    if URGENCY_RANK[triaged.urgency] < case.urgency_rank:
        case.set_urgency(triaged.urgency)
    if triaged.sensitive_category is not None and case.sensitive_category is None:
        case.sensitive_category = triaged.sensitive_category
        case.protection_status = ProtectionStatus.PENDING
        case.protection_reviewed_at = None
        reroute = True
    known = {s["slug"] for s in case.sectors or []}
    extra = [s for s in triaged.sectors if s["slug"] not in known]
    if extra:
        case.sectors = [*(case.sectors or []), *extra]
    if triaged.needs_review:
        case.needs_review = True
    if case.first_response_at is None and case.due_at is not None:
        case.due_at = min(case.due_at, due)
    else:
        case.due_at = due
    case.last_message_at = now
    _event(case, "message", message_id=message.id)
    return reroute


def _event(case: Case, kind: str, *, actor: User | None = None, **detail: Any) -> CaseEvent:
    event = CaseEvent(
        case_id=case.id, actor_id=actor.id if actor else None, kind=kind, detail=detail
    )
    db.session.add(event)
    return event


def raise_alert(case: Case, message: Message, reasons: list[str]) -> None:
    """Record an alert on the case (visible through the API) and log it with ids only."""
    if case.alerted_at is None or case.alerted_at < case.last_message_at:
        case.alerted_at = utcnow()
    _event(case, "alert", message_id=message.id, reasons=reasons, team_id=case.team_id)
    db.session.add(
        AuditEntry(
            action="alert",
            object_type="case",
            object_id=case.id,
            detail={"message_id": message.id, "reasons": reasons, "team_id": case.team_id},
        )
    )
    # the reasons may name a safeguarding category: they stay in the audit log, never in logs
    logger.warning("ALERT case %s message %s team %s", case.id, message.id, case.team_id)


# --- acknowledgements -----------------------------------------------------------------------


@cache
def _ui_locales() -> frozenset[str]:
    base = ROOT / "translations"
    return frozenset(p.name for p in base.iterdir() if (p / "LC_MESSAGES").is_dir()) | {"en"}


#: Babel's CLDR data has no Haitian Creole date names; French (Haiti) formats dates there.
_DATE_LOCALES = {"ht": "fr_HT"}


def reply_locale(message: Message, operation: OperationInfo, detected: str | None = None) -> str:
    """The language to answer in: the one just detected in the message (when the contact did
    not choose one), else the contact's, else the operation's."""
    settings: Settings = current_app.extensions["mcof_settings"]
    candidates = (detected, message.contact.language, message.language, operation.default_language)
    for candidate in candidates:
        if candidate and candidate.split("-")[0] in _ui_locales():
            return candidate.split("-")[0]
    return settings.default_locale


def format_due(due: datetime, locale: str, timezone: str) -> str:
    """``28 nov. 10:30`` in the reader's language and the operation's time zone."""
    tz = ZoneInfo(timezone)
    fmt_locale = _DATE_LOCALES.get(locale, locale)
    day = format_skeleton("MMMd", due, tzinfo=tz, locale=fmt_locale)
    return f"{day} {format_time(due, 'short', tzinfo=tz, locale=fmt_locale)}"


def ack_window(operation: OperationInfo) -> timedelta:
    minutes = (operation.settings or {}).get("ack_window_minutes")
    return timedelta(minutes=int(minutes)) if minutes is not None else DEFAULT_ACK_WINDOW


def acknowledge(
    case: Case,
    message: Message,
    operation: OperationInfo,
    *,
    detected: str | None = None,
    new_case: bool = False,
    life_alert: bool = False,
) -> Message | None:
    """Queue the one acknowledgement a case gets per window; None when it is not due.

    Sensitive cases get a neutral safe reply, life-threatening ones emergency guidance (the
    operation's emergency number and what to do now, never a due date); all carry the
    reference. ``life_alert`` (the message just made the case life-threatening) sends the
    guidance even inside the window. Opted-out senders get nothing.
    """
    from mcof_comms.cases.outbox import queue_system_message
    from mcof_comms.outbound import texts

    now = utcnow()
    if message.contact.is_opted_out(message.channel):
        return None
    recent = case.acknowledged_at is not None and now - case.acknowledged_at < ack_window(operation)
    if recent and not new_case and not life_alert:
        return None
    locale = reply_locale(message, operation, detected)
    number = (operation.settings or {}).get("emergency_number") or None
    with force_locale(locale):
        if case.sensitive_category is not None and case.urgency is Urgency.LIFE_THREATENING:
            body = texts.sensitive_life_threatening_guidance(case.reference, number)
        elif case.sensitive_category is not None:
            body = texts.sensitive_acknowledgement(case.reference)
        elif case.urgency is Urgency.LIFE_THREATENING:
            body = texts.life_threatening_guidance(case.reference, number)
        else:
            due = case.due_at or now
            body = texts.acknowledgement(
                case.reference, format_due(due, locale, operation.timezone)
            )
    # the event goes in the same INSERT as the case's other events (the reply links back to
    # the message through reply_to_id)
    event = _event(case, "acknowledged", message_id=message.id, locale=locale)
    reply = queue_system_message(
        message, body, case_id=case.id, operation_id=operation.id, language=locale
    )
    if reply is None:
        db.session.expunge(event)
        if new_case:
            case.acknowledged_at = None
        return None
    if not new_case or case.acknowledged_at is None:
        case.acknowledged_at = now
    return reply


# --- corrections ----------------------------------------------------------------------------


def relabel_case(
    case: Case,
    actor: User,
    sector: str | None = None,
    feedback_type: FeedbackType | None = None,
    urgency: Urgency | None = None,
) -> Case:
    """Correct a case's triage; the correction becomes training data for every message in it.

    A new sector re-routes the case (a sensitive case stays with protection).
    """
    from mcof_comms.pipeline.training import record_correction

    taxonomy = get_taxonomy()
    before = {
        "sector": case.sector,
        "feedback_type": case.feedback_type.value,
        "urgency": case.urgency.value,
    }
    if sector is not None:
        if sector not in taxonomy.label_slugs:
            raise ValueError(f"unknown sector or referral category: {sector}")
        case.sector = sector
        case.sectors = [{"slug": sector, "confidence": 1.0, "source": "correction"}]
    if feedback_type is not None:
        case.feedback_type = feedback_type
    became_life_threatening = (
        urgency is Urgency.LIFE_THREATENING and case.urgency is not Urgency.LIFE_THREATENING
    )
    if urgency is not None:
        case.set_urgency(urgency)
    case.needs_review = False
    if sector is not None:
        try:
            setup = get_operation_setup(case.operation_id)
        except LookupError:  # the operation was closed: keep the team
            setup = None
        if setup is not None:
            route_case(case, setup, taxonomy)
    after = {
        "sector": case.sector,
        "feedback_type": case.feedback_type.value,
        "urgency": case.urgency.value,
    }
    _event(case, "relabel", actor=actor, before=before, after=after)
    if became_life_threatening:
        from mcof_comms.cases.alerts import raise_life_alert

        raise_life_alert(case, actor=actor)
    db.session.add(
        AuditEntry(
            user_id=actor.id,
            action="relabel",
            object_type="case",
            object_id=case.id,
            detail={"before": before, "after": after},
        )
    )
    messages = db.session.scalars(
        select(Message).where(Message.case_id == case.id, Message.direction == "in")
    )
    for message in messages:
        record_correction(
            message,
            actor=actor,
            sectors=[case.sector] if case.sector else [],
            feedback_type=case.feedback_type.value,
            urgency=case.urgency.value,
        )
    db.session.flush()
    return case
