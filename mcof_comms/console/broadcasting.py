"""The console's view of broadcasts, over ``mcof_comms.broadcasts.services`` (the outbound work):
live audience counts, per-language preview rows and progress shaped for the templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from mcof_comms.broadcasts.audience import audience_filter, hides_exclusions
from mcof_comms.broadcasts.render import text_direction
from mcof_comms.broadcasts.services import (
    broadcast_progress,
    preview_broadcast,
    rendered_texts,
)
from mcof_comms.extensions import db
from mcof_comms.models import Broadcast, Contact, Operation
from mcof_comms.outbound.segments import count_segments


def count_recipients(audience: dict[str, Any], operation: Operation) -> int:
    """How many people this audience reaches now (one per contact, consent checked)."""
    where = audience_filter(audience, operation, exclusions=not hides_exclusions(audience))
    return int(db.session.scalar(select(sa.func.count(Contact.id)).where(where)) or 0)


@dataclass(frozen=True)
class PreviewRow:
    language: str
    text: str
    rtl: bool
    recipients: int
    segments: int
    encoding: str
    channels: dict[str, int]


@dataclass(frozen=True)
class Preview:
    rows: list[PreviewRow]
    recipients: int
    needs_approval: bool
    estimated_cost: str
    sms_segments: int


def preview(broadcast: Broadcast) -> Preview:
    """What each language's recipients will read, how many they are, and the SMS parts."""
    data = preview_broadcast(broadcast)
    languages: dict[str, dict[str, Any]] = data["languages"]
    rows = []
    for language, text in sorted(rendered_texts(broadcast).items()):
        entry = languages.get(language, {})
        seg = count_segments(text)
        rows.append(
            PreviewRow(
                language=language,
                text=text,
                rtl=text_direction(language) == "rtl",
                recipients=int(entry.get("recipients", 0)),
                segments=seg.segments,
                encoding=seg.encoding.value,
                channels=dict(entry.get("channels", {})),
            )
        )
    cost = data["estimated_cost"]
    return Preview(
        rows=rows,
        recipients=int(data["recipients"]),
        needs_approval=bool(data["needs_approval"]) and broadcast.approved_by_id is None,
        estimated_cost=f"{cost['amount']} {cost['currency']}",
        sms_segments=int(data["sms_segments"]),
    )


@dataclass(frozen=True)
class Progress:
    total: int
    queued: int
    sent: int
    delivered: int
    read: int
    failed: int
    by_language: dict[str, dict[str, int]]

    @property
    def done(self) -> int:
        """Handed to the provider, or settled without sending (failed, skipped, canceled)."""
        return self.total - self.queued

    def as_json(self, broadcast: Broadcast) -> dict[str, Any]:
        return {
            "id": broadcast.id,
            "status": broadcast.status.value,
            "total": self.total,
            "queued": self.queued,
            "sent": self.sent,
            "delivered": self.delivered,
            "read": self.read,
            "failed": self.failed,
            "done": self.done,
            "by_language": self.by_language,
        }


def progress(broadcast: Broadcast) -> Progress:
    data = broadcast_progress(broadcast)
    totals: dict[str, int] = data["total"]
    settled = totals["sent"] + totals["failed"] + totals["skipped"] + totals["canceled"]
    total = max(totals["queued"] + settled, broadcast.recipient_count or 0)
    return Progress(
        total=total,
        queued=total - settled,
        sent=totals["sent"],
        delivered=totals["delivered"],
        read=totals["read"],
        failed=totals["failed"] + totals["skipped"],
        by_language=data["languages"],
    )


def list_broadcasts(operation_ids: list[int] | None = None, limit: int = 50) -> list[Broadcast]:
    query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    if operation_ids is not None:
        query = query.where(Broadcast.operation_id.in_(operation_ids))
    return list(db.session.scalars(query))
