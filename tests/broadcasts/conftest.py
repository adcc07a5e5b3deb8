"""Broadcast fixtures: the sending fixtures, tokens, and contacts seeded in bulk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mcof_comms.auth.tokens import create_token
from mcof_comms.auth.users import create_user
from mcof_comms.console.services import set_operations
from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import Channel, Contact, ContactChannel, Message, Operation, Role
from tests.outbound.conftest import drain, drain_queues, fake, make_operation, send_app

__all__ = ["drain", "drain_queues", "fake", "make_operation", "send_app"]

_phone_counter = iter(range(10_000, 10**7))


def token_for(role: Role, email: str) -> tuple[str, int]:
    user = create_user(email, "correct horse battery", role)
    set_operations(user, [], all_operations=True)  # the explicit grant (no membership: none)
    token = create_token(user)
    db.session.commit()
    return token, user.id


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed_contacts(
    operation: Operation,
    n: int,
    *,
    language: str | None = "fr",
    channels: tuple[Channel, ...] = (Channel.SMS,),
    last_inbound_at: datetime | None = None,
    area: str | None = None,
    tags: list[str] | None = None,
    last_seen_at: datetime | None = None,
) -> list[int]:
    """Insert ``n`` contacts with addresses and one inbound message in ``operation``."""
    now = utcnow()
    inbound_at = last_inbound_at or now - timedelta(minutes=5)
    contact_rows: list[dict[str, Any]] = []
    for _ in range(n):
        number = f"+2439{next(_phone_counter):08d}"
        contact_rows.append(
            {
                "phone": number,
                "language": language,
                "area": area,
                "tags": tags or [],
                "first_seen_at": now,
                "last_seen_at": last_seen_at or now,
                "last_inbound_at": inbound_at,
                "created_at": now,
            }
        )
    table = Contact.__table__
    ids = list(
        db.session.execute(table.insert().returning(table.c.id, table.c.phone), contact_rows)
    )
    channel_rows = []
    message_rows = []
    for contact_id, phone in ids:
        for channel in channels:
            address = phone if channel is Channel.SMS else f"whatsapp:{phone}"
            channel_rows.append(
                {
                    "contact_id": contact_id,
                    "channel": channel.value,
                    "address": address,
                    "first_seen_at": now,
                    "last_inbound_at": inbound_at,
                }
            )
        message_rows.append(
            {
                "direction": "in",
                "channel": channels[0].value,
                "kind": "feedback",
                "status": "processed",
                "contact_id": contact_id,
                "body": "seed",
                "operation_id": operation.id,
                "created_at": now,
                "updated_at": now,
            }
        )
    db.session.execute(ContactChannel.__table__.insert(), channel_rows)
    db.session.execute(Message.__table__.insert(), message_rows)
    db.session.commit()
    return [contact_id for contact_id, _ in ids]
