"""The provider seam: what an outbound send needs, what it returns, and how it fails.

Everything above this module (jobs, services) speaks only these types, so tests of that logic can
use a fake sender, and the Twilio code stays in ``channels/twilio``.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OutboundRequest:
    """One message to hand to the provider.

    Exactly one of ``from_`` / ``messaging_service_sid`` names the sender; ``body`` (free-form) or
    ``content_sid`` (+ ``content_variables``, a WhatsApp template) carries the content.
    ``status_callback`` should carry our ``message_id`` so callbacks map back to the row.
    """

    message_id: int
    to: str
    body: str | None = None
    from_: str | None = None
    messaging_service_sid: str | None = None
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = field(default=None, hash=False)
    media_urls: tuple[str, ...] = ()
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it accepted the message.

    ``num_segments`` is 0 when a Messaging Service has not chosen a sender yet.
    """

    sid: str
    provider_status: str
    num_segments: int


class FailureReason(enum.StrEnum):
    """Why a message did not (or will not) reach the person; stored on the message row."""

    INVALID_NUMBER = "invalid_number"
    UNSUBSCRIBED = "unsubscribed"  # the provider blocks the number (SMS STOP, 21610)
    OUTSIDE_WINDOW = "outside_window"  # WhatsApp free-form after 24 h: needs a template
    BLOCKED = "blocked"  # the person blocked us, or the provider/carrier blocks the route
    LANDLINE = "landline"
    UNREACHABLE = "unreachable"
    CARRIER_FILTERED = "carrier_filtered"
    QUEUE_OVERFLOW = "queue_overflow"
    RATE_LIMITED = "rate_limited"
    PROVIDER_ERROR = "provider_error"  # 5xx, timeouts, our credentials or sender setup
    CONTENT_REJECTED = "content_rejected"
    OPTED_OUT = "opted_out"  # our own consent record said no: never reached the provider
    REPETITION = "repetition"  # our own duplicate guard skipped it
    # an alphanumeric sender, a short code or a malformed From: never handed to the provider
    NO_REPLY_PATH = "no_reply_path"
    UNKNOWN = "unknown"


#: Twilio error codes (synchronous REST errors and asynchronous callback ``ErrorCode``s).
TWILIO_ERROR_REASONS: dict[int, FailureReason] = {
    20003: FailureReason.PROVIDER_ERROR,  # authentication failed: our credentials
    20429: FailureReason.RATE_LIMITED,  # REST concurrency limit
    21211: FailureReason.INVALID_NUMBER,
    21212: FailureReason.PROVIDER_ERROR,  # invalid From
    21401: FailureReason.INVALID_NUMBER,
    21408: FailureReason.BLOCKED,  # geo permission for the destination region
    21601: FailureReason.PROVIDER_ERROR,  # From is not an SMS-capable number
    21602: FailureReason.CONTENT_REJECTED,  # body required
    21606: FailureReason.PROVIDER_ERROR,  # From is not ours / not capable
    21608: FailureReason.PROVIDER_ERROR,  # trial account, unverified To
    21610: FailureReason.UNSUBSCRIBED,
    21611: FailureReason.QUEUE_OVERFLOW,
    21612: FailureReason.UNREACHABLE,
    21614: FailureReason.LANDLINE,
    21617: FailureReason.CONTENT_REJECTED,  # body over 1600 characters
    21635: FailureReason.LANDLINE,
    30001: FailureReason.QUEUE_OVERFLOW,
    30002: FailureReason.PROVIDER_ERROR,  # account suspended
    30003: FailureReason.UNREACHABLE,
    30004: FailureReason.BLOCKED,
    30005: FailureReason.INVALID_NUMBER,  # unknown destination handset
    30006: FailureReason.LANDLINE,  # landline or unreachable carrier
    30007: FailureReason.CARRIER_FILTERED,
    30008: FailureReason.UNKNOWN,
    30032: FailureReason.CARRIER_FILTERED,  # toll-free number not verified
    30034: FailureReason.CARRIER_FILTERED,  # US A2P 10DLC: unregistered number
    63003: FailureReason.INVALID_NUMBER,  # WhatsApp: no such address
    63014: FailureReason.BLOCKED,  # WhatsApp: the person blocked us
    63016: FailureReason.OUTSIDE_WINDOW,
    63018: FailureReason.RATE_LIMITED,  # WhatsApp/Meta tier or rate
    63021: FailureReason.CONTENT_REJECTED,
    63024: FailureReason.INVALID_NUMBER,
    63030: FailureReason.CONTENT_REJECTED,
    63049: FailureReason.CARRIER_FILTERED,  # Meta chose not to deliver a marketing template
}


def failure_reason(code: int | None) -> FailureReason:
    """Map a Twilio error code (REST or status callback) to our failure reason."""
    if code is None:
        return FailureReason.UNKNOWN
    return TWILIO_ERROR_REASONS.get(int(code), FailureReason.UNKNOWN)


class SendError(Exception):
    """Base of the two ways a send can fail."""


class PermanentSendError(SendError):
    """The provider refused this message for good: record ``reason``, do not retry."""

    def __init__(self, reason: FailureReason, code: int | None) -> None:
        super().__init__(f"{reason.value} (code {code})")
        self.reason = reason
        self.code = code


class TransientSendError(SendError):
    """Try again later with backoff (429, 5xx, timeouts, connection errors).

    ``ambiguous`` is True when the request may have reached the provider (read timeout, connection
    dropped after sending): before resending, ask ``ChannelSender.find_sent`` so a person never gets
    the same message twice. ``retry_after`` is a hint in seconds when the provider gave one.
    """

    def __init__(
        self,
        code: int | None,
        retry_after: float | None = None,
        *,
        reason: FailureReason = FailureReason.PROVIDER_ERROR,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(
            f"{reason.value} (code {code}, retry_after {retry_after}, ambiguous {ambiguous})"
        )
        self.code = code
        self.retry_after = retry_after
        self.reason = reason
        self.ambiguous = ambiguous


@runtime_checkable
class ChannelSender(Protocol):
    """Sends outbound messages through one provider account."""

    def send(self, request: OutboundRequest) -> SendResult:
        """Hand one message to the provider; raise PermanentSendError or TransientSendError."""
        ...

    def find_sent(
        self, to: str, body: str | None, since: datetime, *, exclude: Collection[str] = ()
    ) -> SendResult | None:
        """Return the message the provider accepted for ``to`` since ``since``, if any.

        Used after a crash or an ambiguous error: "did the provider already accept this?".
        ``body`` None (a template send) matches any outbound message to ``to`` in that time.
        """
        ...
