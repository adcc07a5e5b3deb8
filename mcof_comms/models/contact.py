"""People who text the hotline, and the channels they text it on."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from mcof_comms.db import Base, TimestampMixin, enum_column, utcnow

if TYPE_CHECKING:
    from mcof_comms.models.message import Message


class Channel(enum.StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class LanguageSource(enum.StrEnum):
    DETECTED = "detected"  # set by triage from the text; triage may change it again
    CHOSEN = "chosen"  # the person asked for it (LANG fr); triage leaves it alone
    CONSOLE = "console"  # set by staff; triage leaves it alone


class Contact(TimestampMixin, Base):
    """One person, whatever channel they write on. ``phone`` is E.164, or None for a WhatsApp
    user known only by an opaque id."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    region: Mapped[str | None] = mapped_column(String(2))  # ISO 3166 country of the number
    name: Mapped[str | None] = mapped_column(String(255))  # WhatsApp ProfileName: personal data
    language: Mapped[str | None] = mapped_column(String(16))
    language_source: Mapped[LanguageSource | None] = mapped_column(
        enum_column(LanguageSource, "language_source")
    )
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[datetime | None]
    # broadcast audiences: where the person is, and labels staff gave them
    area: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(
        sa.JSON().with_variant(JSONB(), "postgresql"), default=list, server_default="[]"
    )

    channels: Mapped[list[ContactChannel]] = relationship(
        back_populates="contact", order_by="ContactChannel.id", lazy="selectin"
    )
    messages: WriteOnlyMapped[Message] = relationship(back_populates="contact")

    def channel(self, channel: Channel) -> ContactChannel | None:
        return next((c for c in self.channels if c.channel is channel), None)

    def is_opted_out(self, channel: Channel) -> bool:
        found = self.channel(channel)
        return found is not None and found.opted_out


class ContactChannel(Base):
    """A contact's address on one channel, with consent and the WhatsApp 24-hour window."""

    __tablename__ = "contact_channel"
    __table_args__ = (UniqueConstraint("contact_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    # "+50937000000" for SMS, "whatsapp:+50937000000" (or an opaque BSUID) for WhatsApp
    address: Mapped[str] = mapped_column(String(64), unique=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]
    opted_in_at: Mapped[datetime | None]
    opt_out_source: Mapped[str | None] = mapped_column(String(32))  # keyword, 21610, 63014, console

    contact: Mapped[Contact] = relationship(back_populates="channels")

    @property
    def opted_out(self) -> bool:
        if self.opted_out_at is None:
            return False
        return self.opted_in_at is None or self.opted_in_at < self.opted_out_at
