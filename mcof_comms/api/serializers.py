"""JSON shapes of the API. Personal data is masked unless the reader's role may see it."""

from __future__ import annotations

from typing import Any

from mcof_comms.auth.permissions import can_see_phone_numbers, can_see_sensitive, mask_address
from mcof_comms.models import Case, CaseEvent, Contact, Message, Team, User


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _case_is_sensitive(case_id: int) -> bool:
    from mcof_comms.extensions import db

    case = db.session.get(Case, case_id)
    return case is not None and case.sensitive_category is not None


def message_json(message: Message, reader: User) -> dict[str, Any]:
    show_numbers = can_see_phone_numbers(reader.role)
    # a sensitive report's words (and the keywords that flagged it) stay with protection staff
    case_sensitive = message.case_id is not None and _case_is_sensitive(message.case_id)
    sensitive = message.sensitive_category is not None or case_sensitive
    redacted = sensitive and not can_see_sensitive(reader.role)
    return {
        "id": message.id,
        "direction": message.direction.value,
        "channel": message.channel.value,
        "kind": message.kind.value,
        "status": message.status.value,
        "body": None if redacted else message.body,
        "body_redacted": redacted,
        "media": [] if redacted else message.media,
        "latitude": None if redacted else message.latitude,
        "longitude": None if redacted else message.longitude,
        "contact_id": message.contact_id,
        "external_id": message.external_id,
        "from": message.from_address if show_numbers else mask_address(message.from_address),
        "to": message.to_address if show_numbers else mask_address(message.to_address),
        "error_code": message.error_code,
        "failure_reason": message.failure_reason,
        "num_segments": message.num_segments,
        "reply_to_id": message.reply_to_id,
        "language": message.language,
        "sectors": message.sectors or [],
        "feedback_type": message.feedback_type.value if message.feedback_type else None,
        "urgency": message.urgency.value if message.urgency else None,
        "sensitive": message.sensitive_category,
        "needs_review": message.needs_review,
        "triage": None if redacted else (message.triage or {}),
        "case_id": message.case_id,
        "operation_id": message.operation_id,
        "created_at": _iso(message.created_at),
        "processed_at": _iso(message.processed_at),
        "sent_at": _iso(message.sent_at),
    }


def contact_json(contact: Contact, reader: User) -> dict[str, Any]:
    show_numbers = can_see_phone_numbers(reader.role)
    return {
        "id": contact.id,
        "phone": contact.phone if show_numbers else mask_address(contact.phone),
        "region": contact.region,
        "language": contact.language,
        "language_source": contact.language_source.value if contact.language_source else None,
        "first_seen_at": _iso(contact.first_seen_at),
        "last_seen_at": _iso(contact.last_seen_at),
        "last_inbound_at": _iso(contact.last_inbound_at),
        "channels": [
            {
                "channel": channel.channel.value,
                "address": channel.address if show_numbers else mask_address(channel.address),
                "opted_out": channel.opted_out,
                "opted_out_at": _iso(channel.opted_out_at),
                "opted_in_at": _iso(channel.opted_in_at),
                "last_inbound_at": _iso(channel.last_inbound_at),
            }
            for channel in contact.channels
        ],
        "opted_out": {channel.channel.value: channel.opted_out for channel in contact.channels},
    }


def team_json(team: Team | None) -> dict[str, Any] | None:
    if team is None:
        return None
    return {"id": team.id, "slug": team.slug, "name": team.name, "kind": team.kind}


def case_json(
    case: Case,
    reader: User,
    *,
    messages: list[Message] | None = None,
    events: list[CaseEvent] | None = None,
) -> dict[str, Any]:
    """A case; ``messages`` and ``events`` only in the detail view."""
    data: dict[str, Any] = {
        "id": case.id,
        "reference": case.reference,
        "operation_id": case.operation_id,
        "contact_id": case.contact_id,
        "status": case.status.value,
        "sector": case.sector,
        "sectors": case.sectors or [],
        "team": team_json(case.team),
        "referral_partner": case.referral_partner,
        "feedback_type": case.feedback_type.value,
        "urgency": case.urgency.value,
        "sensitive": case.sensitive_category,
        "needs_review": case.needs_review,
        "language": case.language,
        "sla_due_at": _iso(case.due_at),
        "acknowledged_at": _iso(case.acknowledged_at),
        "alert": case.alerted_at is not None,
        "alerted_at": _iso(case.alerted_at),
        "first_response_at": _iso(case.first_response_at),
        "resolved_at": _iso(case.resolved_at),
        "closed_at": _iso(case.closed_at),
        "last_message_at": _iso(case.last_message_at),
        "created_at": _iso(case.created_at),
    }
    if messages is not None:
        data["messages"] = [message_json(m, reader) for m in messages]
    if events is not None:
        data["events"] = [
            {
                "kind": e.kind,
                "actor_id": e.actor_id,
                "detail": e.detail,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ]
    return data
