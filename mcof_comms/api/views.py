"""Read-only JSON API over messages and contacts, with bearer tokens.

Who sees which message and contact: :mod:`mcof_comms.auth.visibility` (re-exported here).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, g, jsonify, request

from mcof_comms.api.serializers import contact_json, message_json
from mcof_comms.auth.permissions import MESSAGE_READERS
from mcof_comms.auth.tokens import require_token
from mcof_comms.auth.visibility import audit_message_reads, may_view_contact, visible_messages
from mcof_comms.extensions import csrf, db
from mcof_comms.inputs import int_arg
from mcof_comms.models import Channel, Contact, Direction, Message, MessageStatus

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_LIMIT = 200
__all__ = ["bp", "may_view_contact", "visible_messages"]


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
    audit_message_reads(g.api_user, page, via="api")
    db.session.commit()  # token last_used_at, audit entries
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
    audit_message_reads(g.api_user, [message], via="api")
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
