"""Queries behind the console pages: the scoped, filtered, keyset-paged inbox and the case view."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_app_context
from sqlalchemy import ColumnElement, select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.inputs import to_int
from mcof_comms.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    Contact,
    Direction,
    FeedbackType,
    Membership,
    Message,
    Operation,
    Role,
    Team,
    Urgency,
    User,
)

PAGE_SIZE = 50


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox form asks for; every field is optional."""

    operation_id: int | None = None
    sector: str | None = None
    feedback_type: FeedbackType | None = None
    urgency: Urgency | None = None
    sensitive: bool | None = None  # honoured only for roles that may see sensitive cases
    status: str = "open"  # "open", "all" or one CaseStatus value
    language: str | None = None
    area: str | None = None
    channel: Channel | None = None
    date_from: date | None = None
    date_to: date | None = None
    assignee: str | None = None  # "me", "none" or a user id
    q: str | None = None
    review: bool = False
    sectors: tuple[str, ...] = field(default=())  # extra restriction, e.g. a team view

    def as_args(self) -> dict[str, str]:
        """The query string that reproduces these filters (exports, pagination links)."""
        args: dict[str, str] = {}
        for name in (
            "operation_id",
            "sector",
            "language",
            "area",
            "assignee",
            "q",
        ):
            value = getattr(self, name)
            if value not in (None, ""):
                args[name] = str(value)
        for name in ("feedback_type", "urgency", "channel"):
            value = getattr(self, name)
            if value is not None:
                args[name] = value.value
        if self.sensitive is not None:
            args["sensitive"] = "yes" if self.sensitive else "no"
        if self.status != "open":
            args["status"] = self.status
        if self.date_from:
            args["date_from"] = self.date_from.isoformat()
        if self.date_to:
            args["date_to"] = self.date_to.isoformat()
        if self.review:
            args["review"] = "1"
        return args


def operation_scope(user: User) -> list[int] | None:
    """Ids of the operations a user works in; None only with the explicit all-operations grant.

    Fails closed: a user with no membership (or not saved yet) works in no operation, ``[]``.
    Looked up once per request.
    """
    if user.id is None:
        return []
    cache = g.setdefault("mcof_operation_scope", {}) if has_app_context() else {}
    if user.id not in cache:
        rows = db.session.execute(
            select(Membership.operation_id, Membership.all_operations).where(
                Membership.user_id == user.id
            )
        ).all()
        everywhere = any(row.all_operations for row in rows)
        ids = sorted({row.operation_id for row in rows if row.operation_id is not None})
        cache[user.id] = None if everywhere else ids
    return cache[user.id]


def in_scope(user: User, operation_id: int | None) -> bool:
    scope = operation_scope(user)
    return scope is None or operation_id in scope


def set_operations(
    user: User, operation_ids: Sequence[int], *, all_operations: bool = False
) -> list[int]:
    """Replace ``user``'s memberships: the explicit all-operations grant, or these operations
    (none: no operation at all). Returns the operation ids kept. Flushes, no commit."""
    known = set(db.session.scalars(select(Operation.id).where(Operation.id.in_(operation_ids))))
    wanted = [] if all_operations else sorted(known)
    db.session.execute(sa.delete(Membership).where(Membership.user_id == user.id))
    if all_operations:
        db.session.add(Membership(user_id=user.id, operation_id=None, all_operations=True))
    db.session.add_all(Membership(user_id=user.id, operation_id=i) for i in wanted)
    db.session.flush()
    if has_app_context():
        g.pop("mcof_operation_scope", None)
    return wanted


def visible_cases_clause(user: User) -> ColumnElement[bool]:
    """SQL twin of :func:`mcof_comms.auth.permissions.can_view_case`, within the user's
    operations."""
    role_clause = _role_clause(user)
    scope = operation_scope(user)
    if scope is None:
        return role_clause
    return sa.and_(role_clause, Case.operation_id.in_(scope))


def _role_clause(user: User) -> ColumnElement[bool]:
    sensitive = Case.sensitive_category.is_not(None)
    if user.role is Role.ADMIN:
        return sa.true()
    if user.role is Role.PROTECTION_FOCAL_POINT:
        return sensitive
    if user.role is Role.COORDINATOR:
        return Case.sensitive_category.is_(None)
    if user.role is Role.SECTOR_FOCAL_POINT:  # their sectors, or their teams (by team slug)
        mine = list(user.sectors or [])
        return sa.and_(
            Case.sensitive_category.is_(None),
            sa.or_(
                Case.sector.in_(mine), Case.team_id.in_(select(Team.id).where(Team.slug.in_(mine)))
            ),
        )
    return sa.false()


def _filter_clauses(user: User, filters: InboxFilters) -> list[ColumnElement[bool]]:
    from mcof_comms.auth.permissions import can_see_sensitive

    clauses: list[ColumnElement[bool]] = [visible_cases_clause(user)]
    if filters.operation_id is not None:
        clauses.append(Case.operation_id == filters.operation_id)
    if filters.sector:
        clauses.append(Case.sector == filters.sector)
    if filters.sectors:
        clauses.append(Case.sector.in_(filters.sectors))
    if filters.feedback_type is not None:
        clauses.append(Case.feedback_type == filters.feedback_type)
    if filters.urgency is not None:
        clauses.append(Case.urgency == filters.urgency)
    if filters.sensitive is not None and can_see_sensitive(user.role):
        clauses.append(
            Case.sensitive_category.is_not(None)
            if filters.sensitive
            else Case.sensitive_category.is_(None)
        )
    if filters.status == "open":
        # a literal, so the predicate matches the partial index ix_case_open_queue in every plan
        clauses.append(
            Case.status != sa.literal(CaseStatus.CLOSED.value, sa.String, literal_execute=True)
        )
    elif filters.status != "all":
        clauses.append(Case.status == CaseStatus(filters.status))
    if filters.language:
        clauses.append(Case.language == filters.language)
    if filters.area:
        clauses.append(
            select(Contact.id)
            .where(Contact.id == Case.contact_id, Contact.area == filters.area)
            .exists()
        )
    if filters.channel is not None:
        clauses.append(
            select(Message.id)
            .where(Message.case_id == Case.id, Message.channel == filters.channel)
            .exists()
        )
    if filters.date_from:
        clauses.append(Case.created_at >= _start_of(filters.date_from))
    if filters.date_to:
        clauses.append(Case.created_at < _start_of(filters.date_to + timedelta(days=1)))
    if filters.assignee == "me":
        clauses.append(Case.assignee_id == user.id)
    elif filters.assignee == "none":
        clauses.append(Case.assignee_id.is_(None))
    elif filters.assignee and (assignee_id := to_int(filters.assignee)) is not None:
        clauses.append(Case.assignee_id == assignee_id)
    if filters.review:
        clauses.append(Case.needs_review.is_(True))
    if filters.q:
        pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern += "%"
        reference = filters.q.strip().upper()
        # one IN over a UNION: the planner finds the few matches first (trigram index on bodies,
        # unique index on references) instead of testing every case
        clauses.append(
            Case.id.in_(
                sa.union(
                    select(Case.id).where(Case.reference == reference),
                    select(Message.case_id).where(
                        Message.case_id.is_not(None), Message.body.ilike(pattern, escape="\\")
                    ),
                )
            )
        )
    return clauses


def _start_of(day: date) -> datetime:
    from datetime import UTC

    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class InboxRow:
    case: Case
    last_body: str | None
    last_channel: Channel | None
    last_at: datetime | None


@dataclass(frozen=True)
class InboxPage:
    rows: list[InboxRow]
    next_cursor: str | None


def encode_cursor(case: Case) -> str:
    raw = f"{case.urgency_rank}|{case.created_at.isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, created, case_id = raw.split("|")
        rank_value, case_value = to_int(rank), to_int(case_id)
        created_at = datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError):
        return None
    if rank_value is None or case_value is None or created_at.tzinfo is None:
        return None
    return rank_value, created_at, case_value


def inbox_query(user: User, filters: InboxFilters) -> sa.Select[tuple[Case]]:
    """Visible cases matching ``filters``, most urgent first, then oldest first."""
    return (
        select(Case)
        .where(*_filter_clauses(user, filters))
        .order_by(Case.urgency_rank, Case.created_at, Case.id)
    )


def list_inbox(
    user: User, filters: InboxFilters, cursor: str | None = None, limit: int = PAGE_SIZE
) -> InboxPage:
    """One page of the inbox; ``next_cursor`` continues after its last row (keyset paging)."""
    query = inbox_query(user, filters)
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        query = query.where(
            sa.tuple_(Case.urgency_rank, Case.created_at, Case.id) > sa.tuple_(*position)
        )
    cases = list(db.session.scalars(query.limit(limit + 1)))
    more = len(cases) > limit
    cases = cases[:limit]
    last = latest_inbound_by_case([c.id for c in cases])
    rows = [
        InboxRow(
            c,
            last[c.id].body if c.id in last else None,
            last[c.id].channel if c.id in last else None,
            last[c.id].created_at if c.id in last else None,
        )
        for c in cases
    ]
    return InboxPage(rows, encode_cursor(cases[-1]) if more and cases else None)


def latest_inbound_by_case(case_ids: Sequence[int]) -> dict[int, Message]:
    """The newest inbound message of each case, in one query."""
    if not case_ids:
        return {}
    newest = (
        select(sa.func.max(Message.id))
        .where(Message.case_id.in_(case_ids), Message.direction == Direction.IN)
        .group_by(Message.case_id)
    )
    messages = db.session.scalars(select(Message).where(Message.id.in_(newest)))
    return {m.case_id: m for m in messages if m.case_id is not None}


REVIEW_COUNT_CAP = 1000


def count_review_queue(user: User) -> int:
    """Open visible cases waiting for review, counted up to REVIEW_COUNT_CAP (shown as 1000+)."""
    waiting = (
        select(Case.id)
        .where(
            visible_cases_clause(user),
            Case.needs_review.is_(True),
            Case.status != sa.literal(CaseStatus.CLOSED.value, sa.String, literal_execute=True),
        )
        .limit(REVIEW_COUNT_CAP)
        .subquery()
    )
    return int(db.session.scalar(select(sa.func.count()).select_from(waiting)) or 0)


def get_conversation(case: Case) -> list[Message]:
    """Both directions: the case's messages and every reply or notice sent about it."""
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.case_id == case.id)
            .order_by(Message.created_at, Message.id)
        )
    )


def get_case_events(case: Case) -> list[CaseEvent]:
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def list_operations(user: User | None = None) -> list[Operation]:
    """Every operation, or those of ``user``'s memberships."""
    query = select(Operation).order_by(Operation.id)
    scope = operation_scope(user) if user is not None else None
    if scope is not None:
        query = query.where(Operation.id.in_(scope))
    return list(db.session.scalars(query))


def list_staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.active).order_by(User.email)))


def list_sector_slugs(user: User) -> list[str]:
    """Configured sectors and referral categories (a sector focal point: their own)."""
    if user.role is Role.SECTOR_FOCAL_POINT:
        return sorted(user.sectors or [])
    from mcof_comms.models import OperationSector

    return sorted(set(db.session.scalars(select(OperationSector.slug).distinct())))


def list_areas() -> list[str]:
    """Areas the operations list (configuration, not a scan of every contact)."""
    areas: set[str] = set()
    for operation_areas in db.session.scalars(select(Operation.areas)):
        areas.update(a for a in operation_areas or [] if isinstance(a, str))
    return sorted(areas)


def list_languages() -> list[str]:
    """Languages the platform writes in, and those the operations declare."""
    from mcof_comms.i18n import MESSAGE_LOCALES

    languages = set(MESSAGE_LOCALES)
    for operation_languages in db.session.scalars(select(Operation.languages)):
        languages.update(lang for lang in operation_languages or [] if isinstance(lang, str))
    return sorted(languages)


@dataclass(frozen=True)
class SlaClock:
    """How long a case has left (negative: overdue), for the inbox and case view."""

    due_at: datetime | None
    seconds_left: int | None

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left < 0


def sla_clock(case: Case, now: datetime | None = None) -> SlaClock:
    if case.due_at is None or not case.is_open:
        return SlaClock(case.due_at, None)
    now = now or utcnow()
    return SlaClock(case.due_at, int((case.due_at - now).total_seconds()))


@dataclass(frozen=True)
class WhatsAppWindow:
    has_whatsapp: bool
    open: bool
    closes_at: datetime | None


def whatsapp_window(contact: Contact, now: datetime | None = None) -> WhatsAppWindow:
    """Free text on WhatsApp is allowed for 24 hours after the contact's last inbound message."""
    channel = contact.channel(Channel.WHATSAPP)
    if channel is None:
        return WhatsAppWindow(False, False, None)
    if channel.last_inbound_at is None:
        return WhatsAppWindow(True, False, None)
    closes = channel.last_inbound_at + timedelta(hours=24)
    return WhatsAppWindow(True, closes > (now or utcnow()), closes)


def pseudonym(contact_id: int) -> str:
    """A stable, non-reversible contact id for exports (HMAC with the pseudonym key, which is
    not the session key: see ``Settings.pseudonym_key``)."""
    key = str(current_app.config["MCOF_PSEUDONYM_KEY"]).encode()
    digest = hmac.new(key, f"contact:{contact_id}".encode(), hashlib.sha256).hexdigest()
    return "c-" + digest[:12]


def with_status(filters: InboxFilters, status: str) -> InboxFilters:
    return replace(filters, status=status)


@dataclass(frozen=True)
class MessageRow:
    message: Message
    case: Case | None


@dataclass(frozen=True)
class MessagePage:
    rows: list[MessageRow]
    next_cursor: str | None


def list_inbound_messages(
    user: User, filters: InboxFilters, cursor: str | None = None, limit: int = PAGE_SIZE
) -> MessagePage:
    """Inbound messages, newest first, as :func:`mcof_comms.auth.visibility.messages_clause`
    allows (those of visible cases, and case-less ones such as opt-outs by the rule of the
    contact's cases). Sensitive messages only for the roles that may see them."""
    from mcof_comms.auth.permissions import can_see_sensitive
    from mcof_comms.auth.visibility import messages_clause

    clauses: list[ColumnElement[bool]] = [Message.direction == Direction.IN, messages_clause(user)]
    if not can_see_sensitive(user.role):
        clauses.append(Message.sensitive_category.is_(None))
    scope = operation_scope(user)
    if scope is not None:
        clauses.append(Message.operation_id.in_(scope))
    if filters.operation_id is not None:
        clauses.append(Message.operation_id == filters.operation_id)
    if filters.sector:
        clauses.append(Case.sector == filters.sector)
    if filters.language:
        clauses.append(Message.language == filters.language)
    if filters.channel is not None:
        clauses.append(Message.channel == filters.channel)
    if filters.date_from:
        clauses.append(Message.created_at >= _start_of(filters.date_from))
    if filters.date_to:
        clauses.append(Message.created_at < _start_of(filters.date_to + timedelta(days=1)))
    if filters.q:
        pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        # search covers triaged feedback (the indexed part), not keywords or untriaged rows
        clauses.append(Message.case_id.is_not(None))
        clauses.append(Message.body.ilike(pattern + "%", escape="\\"))
    if cursor and (before_id := to_int(cursor)) is not None:
        clauses.append(Message.id < before_id)
    rows = list(
        db.session.execute(
            select(Message, Case)
            .outerjoin(Case, Case.id == Message.case_id)
            .where(*clauses)
            .order_by(Message.id.desc())
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    page = [MessageRow(m, c) for m, c in rows[:limit]]
    return MessagePage(page, str(page[-1].message.id) if more and page else None)
