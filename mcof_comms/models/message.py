"""Messages in both directions, and the log of their provider statuses."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column, partial_index, utcnow
from mcof_comms.models.contact import Channel, Contact
from mcof_comms.models.triage import FeedbackType, Urgency

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


class MessageKind(enum.StrEnum):
    FEEDBACK = "feedback"  # goes through triage
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    LANGUAGE = "language"  # "LANG fr": the contact chose a language
    SYSTEM = "system"  # outbound text the platform wrote (confirmation, acknowledgement)
    REPLY = "reply"  # outbound text a person wrote to one contact
    BROADCAST = "broadcast"


class MessageStatus(enum.StrEnum):
    """Inbound: received -> processed.  Outbound: queued -> sending -> accepted -> sent ->
    delivered | undelivered | failed -> read; skipped and canceled end it before sending."""

    RECEIVED = "received"
    PROCESSED = "processed"
    QUEUED = "queued"
    SENDING = "sending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"
    SKIPPED = "skipped"
    CANCELED = "canceled"


#: Outbound statuses only move forward: a callback with a lower or equal rank changes nothing.
STATUS_RANK: dict[MessageStatus, int] = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.PROCESSED: 1,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.ACCEPTED: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.SKIPPED: 4,
    MessageStatus.CANCELED: 4,
    MessageStatus.READ: 5,
}


class SendRoute(enum.StrEnum):
    """How an outbound message was sent; WhatsApp outside the 24-hour window needs a template."""

    TEXT = "text"  # free text on the message's own channel
    TEMPLATE = "template"  # a WhatsApp approved template (content_sid + variables)
    SMS_FALLBACK = "sms_fallback"  # WhatsApp window closed, no template: sent by SMS instead


class Message(TimestampMixin, Base):
    __tablename__ = "message"
    __table_args__ = (
        # the sweeper's and the inbox's scans: rows in one status, oldest first (the sweeper's
        # "received, older than N seconds" uses it too, so no partial index of its own)
        Index("ix_message_status_created", "status", "created_at"),
        Index("ix_message_contact_created", "contact_id", "created_at"),
        # partial: an inbound message is inserted without a case or a broadcast, so the webhook
        # pays for neither index
        partial_index("ix_message_case_id", "case_id", where="case_id IS NOT NULL"),
        partial_index("ix_message_broadcast_id", "broadcast_id", where="broadcast_id IS NOT NULL"),
        # the self-referencing foreign key needs its own index: deletes cascade through it
        partial_index("ix_message_reply_to_id", "reply_to_id", where="reply_to_id IS NOT NULL"),
        # one message per contact per broadcast: a resumed fan-out inserts nothing twice
        partial_index(
            "uq_message_broadcast_contact",
            "broadcast_id",
            "contact_id",
            where="broadcast_id IS NOT NULL AND retry_of_id IS NULL",
            unique=True,
        ),
        # resends of a message: progress counts, and deletes check this foreign key
        partial_index("ix_message_retry_of_id", "retry_of_id", where="retry_of_id IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[Direction] = mapped_column(enum_column(Direction, "direction"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind, "message_kind"))
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus, "message_status"))
    status_rank: Mapped[int] = mapped_column(default=0, server_default="0")
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    # Twilio MessageSid; unique, so a webhook delivered twice gives one row
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    to_address: Mapped[str | None] = mapped_column(String(64))  # our number or sender
    from_address: Mapped[str | None] = mapped_column(String(64))
    messaging_service_sid: Mapped[str | None] = mapped_column(String(64))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[int | None]
    failure_reason: Mapped[str | None] = mapped_column(String(32))
    num_segments: Mapped[int | None]
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operation.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_case.id", ondelete="SET NULL"))
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="SET NULL")
    )
    # triage: filled by the pipeline, corrected by coordinators
    language: Mapped[str | None] = mapped_column(String(16))
    sectors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    feedback_type: Mapped[FeedbackType | None] = mapped_column(
        enum_column(FeedbackType, "feedback_type")
    )
    urgency: Mapped[Urgency | None] = mapped_column(enum_column(Urgency, "urgency"))
    sensitive_category: Mapped[str | None] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(default=False)
    triage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # why it decided
    processed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # outbound sending: how it went out, and when we last handed it to the provider
    route: Mapped[SendRoute | None] = mapped_column(enum_column(SendRoute, "send_route"))
    content_sid: Mapped[str | None] = mapped_column(String(64))  # WhatsApp template
    content_variables: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    send_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    send_attempted_at: Mapped[datetime | None]
    # a resend after an asynchronous failure (63016: by template or SMS) points at the original
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="messages")

    def set_status(self, status: MessageStatus) -> None:
        self.status = status
        self.status_rank = STATUS_RANK[status]


class MessageEvent(Base):
    """Append-only log of what providers told us about a message (no bodies, no numbers)."""

    __tablename__ = "message_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[int | None]
    applied: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
