"""Read-only JSON API over cases, with the same visibility rules as the console.

Who sees what, as in the console: admins everything; coordinators every case that is not
sensitive; sector focal points the non-sensitive cases of their sectors; protection focal points
the sensitive cases; all within their operations. A life-threatening case is on top of every
queue its reader may see (its alert reaches every case worker of the operation, without the
case's words).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import ColumnElement, and_, false, or_, select

from mcof_comms import audit
from mcof_comms.api.serializers import case_json
from mcof_comms.api.views import _enum_arg, _int_arg, api_error
from mcof_comms.auth.permissions import MESSAGE_READERS, can_view_case
from mcof_comms.auth.tokens import require_token
from mcof_comms.extensions import csrf, db
from mcof_comms.inputs import to_int
from mcof_comms.models import (
    OPEN_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    FeedbackType,
    Message,
    Urgency,
    User,
)

bp = Blueprint("api_cases", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
for _code in (400, 401, 403, 404):
    bp.register_error_handler(_code, api_error)

MAX_LIMIT = 200
_LIFE_THREATENING_OPEN = and_(
    Case.urgency == Urgency.LIFE_THREATENING, Case.status.in_(OPEN_STATUSES)
)


def visible_cases(user: User) -> ColumnElement[bool]:
    """The console's rule (:func:`mcof_comms.console.services.visible_cases_clause`), within the
    user's operations: the API shows no case the console would not open."""
    from mcof_comms.console.services import visible_cases_clause

    if user.role not in MESSAGE_READERS:
        return false()
    return visible_cases_clause(user)


def may_view_case(user: User, case: Case) -> bool:
    """Python twin of :func:`visible_cases`: the console's rule, within the user's operations."""
    from mcof_comms.console.services import in_scope

    return (
        user.role in MESSAGE_READERS
        and in_scope(user, case.operation_id)
        and can_view_case(user, case)
    )


def _bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    abort(400, description=f"{name} must be true or false")
    return None  # unreachable: abort raises


def _cursor() -> tuple[int, int] | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    rank, _, case_id = raw.partition(".")
    rank_value, case_value = to_int(rank), to_int(case_id)
    if rank_value is None or case_value is None:
        abort(400, description="cursor must be a value returned as next_cursor")
    return rank_value, case_value


@bp.get("/cases")
@require_token(MESSAGE_READERS)
def list_cases() -> Response:
    """Most urgent first, then newest; pass ``next_cursor`` back as ``cursor``.

    Filters: status, sector, team, urgency, feedback_type, needs_review, sensitive, alert,
    operation, contact, since. With ``sector`` or ``team``, open life-threatening cases the
    reader may see stay on top of the list.
    """
    user: User = g.api_user
    query = select(Case).where(visible_cases(user))
    if (status := _enum_arg("status", CaseStatus)) is not None:
        query = query.where(Case.status == status)
    elif _bool_arg("open"):
        query = query.where(Case.status.in_(OPEN_STATUSES))
    queue_filters: list[ColumnElement[bool]] = []
    if sector := request.args.get("sector"):
        queue_filters.append(Case.sector == sector)
    if (team_id := _int_arg("team")) is not None:
        queue_filters.append(Case.team_id == team_id)
    if queue_filters:
        query = query.where(or_(and_(*queue_filters), _LIFE_THREATENING_OPEN))
    if (urgency := _enum_arg("urgency", Urgency)) is not None:
        query = query.where(Case.urgency == urgency)
    if (feedback_type := _enum_arg("feedback_type", FeedbackType)) is not None:
        query = query.where(Case.feedback_type == feedback_type)
    if (needs_review := _bool_arg("needs_review")) is not None:
        query = query.where(Case.needs_review.is_(needs_review))
    if (sensitive := _bool_arg("sensitive")) is not None:
        column = Case.sensitive_category
        query = query.where(column.is_not(None) if sensitive else column.is_(None))
    if (alert := _bool_arg("alert")) is not None:
        query = query.where(Case.alerted_at.is_not(None) if alert else Case.alerted_at.is_(None))
    if (operation_id := _int_arg("operation")) is not None:
        query = query.where(Case.operation_id == operation_id)
    if (contact_id := _int_arg("contact")) is not None:
        query = query.where(Case.contact_id == contact_id)
    if since := request.args.get("since"):
        query = query.where(Case.created_at >= _datetime_arg("since", since))
    if (cursor := _cursor()) is not None:
        rank, case_id = cursor
        query = query.where(
            or_(
                Case.urgency_rank > rank,
                and_(Case.urgency_rank == rank, Case.id < case_id),
            )
        )
    limit = min(_int_arg("limit", 50) or 50, MAX_LIMIT)
    query = query.order_by(Case.urgency_rank, Case.id.desc()).limit(limit + 1)
    rows = list(db.session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    data = [case_json(case, user) for case in page]
    _audit_sensitive(user, page)
    db.session.commit()  # token last_used_at, audit entries
    last = page[-1] if page else None
    next_cursor = f"{last.urgency_rank}.{last.id}" if more and last else None
    return jsonify(data=data, next_cursor=next_cursor)


@bp.get("/cases/<int:case_id>")
@require_token(MESSAGE_READERS)
def get_case(case_id: int) -> Response:
    """One case with its messages (oldest first) and events."""
    user: User = g.api_user
    case = db.get_or_404(Case, case_id)
    if not may_view_case(user, case):
        db.session.commit()
        abort(404)  # do not confirm that a case the reader may not see exists
    messages = list(
        db.session.scalars(select(Message).where(Message.case_id == case.id).order_by(Message.id))
    )
    events = list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )
    data = case_json(case, user, messages=messages, events=events)
    _audit_sensitive(user, [case])
    db.session.commit()
    return jsonify(data)


def _audit_sensitive(user: User, cases: list[Case]) -> None:
    audit.record_sensitive_reads(user, (case.id for case in cases), via="api")


def _datetime_arg(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description=f"{name} must be an ISO 8601 date-time")
    if value.tzinfo is None:
        abort(400, description=f"{name} needs a time zone, e.g. 2026-11-28T10:00:00Z")
    return value
