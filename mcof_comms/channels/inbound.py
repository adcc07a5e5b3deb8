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
    # "+50937000000", "whatsapp:+50937000000", "whatsapp:US.ABC123" (an opaque WhatsApp id),
    # "MTN-INFO" (an alphanumeric sender), "72345" (a short code), or what a malformed From held
    address: str
    phone: str | None  # E.164; None for everything that is not a phone number
    region: str | None = None


def can_reply_to(address: str | None) -> bool:
    """Whether a message can be sent to this address: a phone number or a WhatsApp user.

    Alphanumeric senders and short codes cannot receive a reply (the carrier drops it or bills
    it to nobody), and neither can the address of a post whose From was missing or malformed.
    """
    return address is not None and address.startswith(("+", "whatsapp:"))


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
    # why a signed post could not be taken as it is (codes, e.g. "media_url_missing"): it is
    # stored anyway, flagged for review, since Twilio does not retry a 4xx
    review: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    external_id: str
    status: str  # the provider's word: queued, sent, delivered, undelivered, failed, read, ...
    message_id: int | None = None  # ours, from the callback URL
    error_code: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
