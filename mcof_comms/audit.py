"""Write the audit log: who saw a sensitive case, who revealed a number, who changed what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mcof_comms.extensions import db
from mcof_comms.models import AuditEntry, User


def record(
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int | None,
    **detail: Any,
) -> AuditEntry:
    """Add one audit entry (flushed with the caller's transaction, never on its own)."""
    entry = AuditEntry(
        user_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
    db.session.add(entry)
    return entry


def list_entries(
    *, before_id: int | None = None, action: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """Newest first, paged by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))
