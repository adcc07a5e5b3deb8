"""Write the audit log: who saw a sensitive case, who revealed a number, who changed what."""

from __future__ import annotations

from collections.abc import Iterable
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


def record_sensitive_reads(
    actor: User | None, case_ids: Iterable[int | None], *, via: str, **detail: Any
) -> int:
    """One ``view_sensitive_case`` entry per distinct sensitive case a response returned.

    ``case_ids`` are the cases whose words (or whose existence) the reader was shown; the ones
    that are not sensitive are dropped here, so callers pass every case they returned.
    """
    from mcof_comms.models import Case

    ids = sorted({i for i in case_ids if i is not None})
    if not ids:
        return 0
    sensitive = db.session.scalars(
        select(Case.id).where(Case.id.in_(ids), Case.sensitive_category.is_not(None))
    ).all()
    for case_id in sensitive:
        record(actor, "view_sensitive_case", "case", case_id, via=via, **detail)
    return len(sensitive)
