"""JSON shapes of the API. Personal data is masked unless the reader's role may see it."""

from __future__ import annotations

from typing import Any

from mcof_comms.auth.permissions import can_see_phone_numbers, mask_address
from mcof_comms.models import Contact, Message, User


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def message_json(message: Message, reader: User) -> dict[str, Any]:
    show_numbers = can_see_phone_numbers(reader.role)
    return {
        "id": message.id,
        "direction": message.direction.value,
        "channel": message.channel.value,
        "kind": message.kind.value,
        "status": message.status.value,
        "body": message.body,
        "media": message.media,
        "latitude": message.latitude,
        "longitude": message.longitude,
        "contact_id": message.contact_id,
        "external_id": message.external_id,
        "from": message.from_address if show_numbers else mask_address(message.from_address),
        "to": message.to_address if show_numbers else mask_address(message.to_address),
        "error_code": message.error_code,
        "failure_reason": message.failure_reason,
        "num_segments": message.num_segments,
        "reply_to_id": message.reply_to_id,
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
