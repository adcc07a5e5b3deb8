"""What a provider tells us, as plain values: an inbound message and a status update."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcof_comms.models.contact import Channel


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class Address:
    """A sender: the channel, its full address, and the E.164 number when there is one."""

    channel: Channel
    address: str  # "+50937000000" or "whatsapp:+50937000000" or "whatsapp:US.ABC123"
    phone: str | None  # E.164; None for an opaque WhatsApp id
    region: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    external_id: str
    sender: Address
    to: str | None
    body: str
    media: tuple[Media, ...] = ()
    profile_name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    messaging_service_sid: str | None = None
    # Twilio Advanced Opt-Out already matched a keyword and answered it: STOP, START or HELP
    opt_out_type: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    external_id: str
    status: str  # the provider's word: queued, sent, delivered, undelivered, failed, read, ...
    message_id: int | None = None  # ours, from the callback URL
    error_code: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
