"""Read-only JSON API over messages and contacts, with bearer tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from mcof_comms.api.serializers import contact_json, message_json
from mcof_comms.auth.permissions import MESSAGE_READERS
from mcof_comms.auth.tokens import require_token
from mcof_comms.extensions import csrf, db
from mcof_comms.inputs import int_arg
from mcof_comms.models import Case, Channel, Contact, Direction, Message, MessageStatus, Role, User

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_LIMIT = 200


def _enum_arg(name: str, enum_cls: type) -> object | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        abort(400, description=f"{name} must be one of: {', '.join(e.value for e in enum_cls)}")


def _int_arg(name: str, default: int | None = None) -> int | None:
    return int_arg(request.args, name, default)


def visible_messages(user: User) -> sa.Select[tuple[Message]]:
    """Messages the reader may see: those of cases they may open, and, for admins and
    coordinators, triaged messages outside any case (keywords, confirmations, broadcasts).

    A message still waiting for triage could be an abuse report: only admins see it.
    """
    from mcof_comms.console.services import operation_scope, visible_cases_clause

    in_case = sa.and_(Message.case_id.is_not(None), visible_cases_clause(user))
    outside: ColumnElement[bool] = sa.false()
    if user.role is Role.ADMIN:
        outside = Message.case_id.is_(None)
    elif user.role is Role.COORDINATOR:
        outside = sa.and_(
            Message.case_id.is_(None),
            Message.sensitive_category.is_(None),
            Message.status != MessageStatus.RECEIVED,
        )
        scope = operation_scope(user)
        if scope is not None:
            outside = sa.and_(outside, Message.operation_id.in_(scope))
    return (
        select(Message).outerjoin(Case, Case.id == Message.case_id).where(sa.or_(in_case, outside))
    )


def may_view_contact(user: User, contact_id: int) -> bool:
    """Admins see every contact; others one with a case they may open, and coordinators also
    one who never had a sensitive case."""
    from mcof_comms.console.services import visible_cases_clause

    if user.role is Role.ADMIN:
        return True
    visible = select(Case.id).where(Case.contact_id == contact_id, visible_cases_clause(user))
    if db.session.scalar(visible.limit(1)) is not None:
        return True
    if user.role is Role.COORDINATOR:
        sensitive = select(Case.id).where(
            Case.contact_id == contact_id, Case.sensitive_category.is_not(None)
        )
        return db.session.scalar(sensitive.limit(1)) is None
    return False


@bp.get("/messages")
@require_token(MESSAGE_READERS)
def list_messages() -> Response:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    query = visible_messages(g.api_user).order_by(Message.id.desc())
    if (contact_id := _int_arg("contact")) is not None:
        query = query.where(Message.contact_id == contact_id)
    if (channel := _enum_arg("channel", Channel)) is not None:
        query = query.where(Message.channel == channel)
    if (direction := _enum_arg("direction", Direction)) is not None:
        query = query.where(Message.direction == direction)
    if (status := _enum_arg("status", MessageStatus)) is not None:
        query = query.where(Message.status == status)
    if since := request.args.get("since"):
        try:
            since_at = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            abort(400, description="since must be an ISO 8601 date-time")
        if since_at.tzinfo is None:
            abort(400, description="since needs a time zone, e.g. 2026-11-28T10:00:00Z")
        query = query.where(Message.created_at >= since_at)
    if (cursor := _int_arg("cursor")) is not None:
        query = query.where(Message.id < cursor)
    limit = min(_int_arg("limit", 50) or 50, MAX_LIMIT)
    rows = list(db.session.scalars(query.limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    db.session.commit()  # token last_used_at
    return jsonify(
        data=[message_json(m, g.api_user) for m in page],
        next_cursor=str(page[-1].id) if more and page else None,
    )


@bp.get("/messages/<int:message_id>")
@require_token(MESSAGE_READERS)
def get_message(message_id: int) -> Response:
    message = db.session.scalars(
        visible_messages(g.api_user).where(Message.id == message_id)
    ).one_or_none()
    if message is None:
        abort(404, description="no such message")
    db.session.commit()
    return jsonify(message_json(message, g.api_user))


@bp.get("/contacts/<int:contact_id>")
@require_token(MESSAGE_READERS)
def get_contact(contact_id: int) -> Response:
    contact = db.get_or_404(Contact, contact_id)
    if not may_view_contact(g.api_user, contact.id):
        abort(404, description="no such contact")
    db.session.commit()
    return jsonify(contact_json(contact, g.api_user))


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
def api_error(error: Exception) -> tuple[Response, int]:
    code = getattr(error, "code", 500)
    description = getattr(error, "description", "error")
    response = jsonify(error=description)
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mcof-comms"'
    return response, code
