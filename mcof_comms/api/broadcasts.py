"""JSON API for broadcasts and one-to-one replies, with bearer tokens.

Responders and admins broadcast; case workers (admins, coordinators, focal points) reply to one
contact. The schema is documented in README.md, "Broadcast API".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import select

from mcof_comms.api.serializers import message_json
from mcof_comms.api.views import api_error
from mcof_comms.auth.permissions import MESSAGE_READERS, can_see_sensitive
from mcof_comms.auth.tokens import require_token
from mcof_comms.broadcasts.jobs import enqueue_fan_out
from mcof_comms.broadcasts.services import (
    BROADCASTERS,
    BroadcastError,
    approve_broadcast,
    broadcast_json,
    cancel_broadcast,
    create_broadcast,
    preview_broadcast,
    request_send,
)
from mcof_comms.console.services import in_scope
from mcof_comms.extensions import csrf, db
from mcof_comms.models import Broadcast, BroadcastStatus, Case, Channel, Contact, Operation
from mcof_comms.outbound.services import (
    OutboundError,
    contact_operation_id,
    enqueue_outbound,
    reply_case,
    reply_to_contact,
)

bp = Blueprint("api_broadcasts", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
for _code in (400, 401, 403, 404, 409):
    bp.register_error_handler(_code, api_error)


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="the body must be a JSON object")
    return data


def _error(exc: BroadcastError | OutboundError, status: int = 400) -> tuple[Response, int]:
    code = exc.status if isinstance(exc, BroadcastError) else status
    return jsonify(error=str(exc)), code


@bp.errorhandler(BroadcastError)
def broadcast_refused(exc: BroadcastError) -> tuple[Response, int]:
    """A refused transition (already sent, needs approval, own broadcast...): nothing changes."""
    db.session.rollback()
    return _error(exc)


def _operation(ref: Any) -> Operation:
    if isinstance(ref, int) and not isinstance(ref, bool):
        operation = db.session.get(Operation, ref)
    elif isinstance(ref, str) and ref:
        operation = db.session.scalars(select(Operation).where(Operation.slug == ref)).first()
    else:
        abort(400, description="operation (slug or id) is required")
    if operation is None or not in_scope(g.api_user, operation.id):
        abort(404, description="no such operation")
    return operation


def _start_fan_out(broadcast: Broadcast) -> None:
    """After commit: start now, or at the scheduled time (the sweeper also catches it)."""
    if broadcast.status is BroadcastStatus.SENDING:
        enqueue_fan_out(broadcast.id)
    elif broadcast.status is BroadcastStatus.SCHEDULED and broadcast.scheduled_at is not None:
        from mcof_comms.db import utcnow

        enqueue_fan_out(broadcast.id, delay=broadcast.scheduled_at - utcnow())


@bp.post("/broadcasts")
@require_token(BROADCASTERS)
def create() -> Any:
    """Create a draft broadcast; answers with it and its preview."""
    data = _json_body()
    operation = _operation(data.get("operation"))
    audience = data.get("audience") or {}
    if (
        isinstance(audience, dict)
        and audience.get("include_sensitive")
        and not can_see_sensitive(g.api_user.role)
    ):
        abort(403, description="only protection staff may include people with sensitive cases")
    try:
        broadcast = create_broadcast(
            operation,
            actor=g.api_user,
            base_language=str(data.get("base_language") or operation.default_language),
            translations=data.get("translations") or {},
            audience=audience,
            variables=data.get("variables") or {},
            templates=data.get("templates") or {},
            scheduled_at=data.get("scheduled_at"),
        )
        preview = preview_broadcast(broadcast)
    except BroadcastError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify({**broadcast_json(broadcast, progress=False), "preview": preview}), 201


def _get(broadcast_id: int) -> Broadcast:
    broadcast: Broadcast = db.get_or_404(Broadcast, broadcast_id)
    if not in_scope(g.api_user, broadcast.operation_id):
        abort(404, description="no such broadcast")
    return broadcast


@bp.get("/broadcasts/<int:broadcast_id>")
@require_token(BROADCASTERS)
def show(broadcast_id: int) -> Response:
    """The broadcast with its progress: queued, sent, delivered, read, failed per language."""
    broadcast = _get(broadcast_id)
    data = broadcast_json(broadcast)
    db.session.commit()
    return jsonify(data)


@bp.get("/broadcasts/<int:broadcast_id>/preview")
@require_token(BROADCASTERS)
def preview(broadcast_id: int) -> Response:
    """Recipients per language and channel, segment counts and estimated cost."""
    broadcast = _get(broadcast_id)
    data = preview_broadcast(broadcast)
    db.session.commit()
    return jsonify(data)


@bp.post("/broadcasts/<int:broadcast_id>/send")
@require_token(BROADCASTERS)
def send(broadcast_id: int) -> Any:
    """Send now or at its time; above the size limit it waits for a second user's approval."""
    broadcast = _get(broadcast_id)
    data = request_send(broadcast, actor=g.api_user)
    db.session.commit()
    _start_fan_out(broadcast)
    return jsonify(status=broadcast.status.value, preview=data), 202


@bp.post("/broadcasts/<int:broadcast_id>/approve")
@require_token(BROADCASTERS)
def approve(broadcast_id: int) -> Any:
    """Approve a broadcast someone else created; one waiting for approval then starts."""
    broadcast = _get(broadcast_id)
    approve_broadcast(broadcast, actor=g.api_user)
    db.session.commit()
    _start_fan_out(broadcast)
    return jsonify(status=broadcast.status.value, approved_by=broadcast.approved_by_id)


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@require_token(BROADCASTERS)
def cancel(broadcast_id: int) -> Any:
    """Stop the fan-out and cancel what has not been handed to the provider yet."""
    broadcast = _get(broadcast_id)
    canceled = cancel_broadcast(broadcast, actor=g.api_user)
    db.session.commit()
    return jsonify(status=broadcast.status.value, canceled_messages=canceled)


@bp.post("/contacts/<int:contact_id>/messages")
@require_token(MESSAGE_READERS)
def reply(contact_id: int) -> Any:
    """Send a reply to one contact: ``{"body": ..., "channel": "sms"|"whatsapp", "case_id": 12}``.

    Without ``case_id`` the reply joins the contact's open sensitive case, else their latest
    open case (404 when the caller may not open it).
    """
    contact = db.get_or_404(Contact, contact_id)
    data = _json_body()
    body = data.get("body")
    if not isinstance(body, str):
        abort(400, description="body must be a text")
    channel = None
    if data.get("channel") is not None:
        try:
            channel = Channel(data["channel"])
        except ValueError:
            abort(400, description="channel must be sms or whatsapp")
    case_id = data.get("case_id")
    if case_id is not None and not isinstance(case_id, int):
        abort(400, description="case_id must be a case id")
    from mcof_comms.api.cases import may_view_case
    from mcof_comms.auth.visibility import may_view_contact

    # a reply belongs to a case: the one named, else the open sensitive one, else the latest
    # open one; only a contact with no open case gets a case-less reply, seen by their rule
    case = db.session.get(Case, case_id) if case_id is not None else reply_case(contact.id)
    if case_id is not None and (case is None or case.contact_id != contact.id):
        abort(404, description="no such case for this contact")
    if case is not None and not may_view_case(g.api_user, case):
        abort(404, description="no such contact" if case_id is None else "no such case")
    if case is None and not may_view_contact(g.api_user, contact.id):
        abort(404, description="no such contact")
    try:
        message = reply_to_contact(
            contact,
            body,
            actor=g.api_user,
            channel=channel,
            case_id=case.id if case is not None else None,
            operation_id=case.operation_id
            if case is not None
            else contact_operation_id(contact.id),
        )
    except OutboundError as exc:
        db.session.rollback()
        return _error(exc, 409 if "opted out" in str(exc) else 400)
    db.session.commit()
    enqueue_outbound([message.id])
    return jsonify(message_json(message, g.api_user)), 201
