"""Broadcasts: one text, in several languages, to an audience."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column, utcnow
from mcof_comms.models.message import JSONType
from mcof_comms.models.operation import Operation


class BroadcastStatus(enum.StrEnum):
    """draft -> (pending_approval) -> scheduled | sending -> sent; canceled at any point."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELED = "canceled"
    FAILED = "failed"


class Broadcast(TimestampMixin, Base):
    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[BroadcastStatus] = mapped_column(
        enum_column(BroadcastStatus, "broadcast_status"), default=BroadcastStatus.DRAFT
    )
    base_language: Mapped[str] = mapped_column(String(16), default="en")
    # {"en": "Distribution on {date}", "fr": "..."}: written by responders, so data, not gettext
    translations: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # placeholder values filled per recipient with Babel formatting: {"date": {"type": "date", ...}}
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # WhatsApp template per language for contacts outside the 24-hour window
    templates: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    audience: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    # fan-out resumes after a crash from the last contact id it queued
    cursor_contact_id: Mapped[int] = mapped_column(default=0)
    recipient_count: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    operation: Mapped[Operation] = relationship()
