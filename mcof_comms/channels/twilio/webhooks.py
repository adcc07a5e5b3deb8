"""Twilio webhooks: inbound messages and delivery status callbacks."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from twilio.twiml.messaging_response import MessagingResponse

from config import Settings
from mcof_comms.channels.twilio.parse import MalformedRequest, parse_inbound, parse_status
from mcof_comms.channels.twilio.signature import require_twilio_signature
from mcof_comms.extensions import csrf, db
from mcof_comms.inbound.jobs import enqueue_process_inbound_message
from mcof_comms.inbound.services import receive_message
from mcof_comms.outbound.status import apply_status_update

logger = logging.getLogger(__name__)

bp = Blueprint("twilio", __name__, url_prefix="/webhooks/twilio")
csrf.exempt(bp)


EMPTY_TWIML = str(MessagingResponse())


def twiml(reply: str | None = None) -> Response:
    if not reply:
        return Response(EMPTY_TWIML, mimetype="text/xml")
    response = MessagingResponse()
    response.message(reply)
    return Response(str(response), mimetype="text/xml")


def bad_request(reason: str) -> Response:
    response = jsonify(error="malformed request", reason=reason)
    response.status_code = 400
    return response


def database_unavailable(error: Exception) -> Response:
    db.session.rollback()
    logger.error("database unavailable while handling %s: %s", request.path, type(error).__name__)
    response = jsonify(error="database unavailable; retry later")
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return response


@bp.post("/messages")
@require_twilio_signature
def inbound() -> Response:
    """Accept one inbound SMS or WhatsApp message: persist, commit, enqueue, answer TwiML.

    A signed post is never refused: one the parser cannot take as it is is stored for review.
    """
    settings: Settings = current_app.extensions["mcof_settings"]
    parsed = parse_inbound(request.form, default_region=settings.default_region)
    try:
        received = receive_message(parsed)
        reply_body = received.reply.body if received.reply else None
        message_id, needs_processing = received.message_id, received.needs_processing
        db.session.commit()
    except (OperationalError, InterfaceError) as exc:
        return database_unavailable(exc)
    if parsed.review:
        logger.info("stored inbound message %s for review: %s", message_id, ",".join(parsed.review))
    if needs_processing:
        enqueue_process_inbound_message(message_id, first=True)
    return twiml(reply_body)


@bp.post("/status")
@require_twilio_signature
def status() -> Response:
    """Apply a delivery status callback; out-of-order and repeated ones never move it back."""
    try:
        update = parse_status(request.form, request.args.get("message_id"))
    except MalformedRequest as exc:
        return bad_request(str(exc))
    try:
        apply_status_update(update)
        db.session.commit()
    except (OperationalError, InterfaceError) as exc:
        return database_unavailable(exc)
    return Response("", status=200)
