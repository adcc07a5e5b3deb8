"""The WhatsApp 24-hour customer-service window: free text inside it, a template or SMS outside.

Pure: values in, a decision out. The send job calls :func:`choose_route` at send time, because a
message queued inside the window may leave after it closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mcof_comms.models.contact import Channel
from mcof_comms.models.message import SendRoute

WINDOW = timedelta(hours=24)
#: Decide a little early: Twilio may queue the message, and clocks differ.
SAFETY_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class RouteChoice:
    """``route`` None: nothing may be sent (window closed, no template, no SMS to fall back on)."""

    route: SendRoute | None
    channel: Channel


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True while free text may still reach a WhatsApp user who last wrote then."""
    if last_inbound_at is None:
        return False
    return now - last_inbound_at < WINDOW - SAFETY_MARGIN


def choose_route(
    channel: Channel,
    *,
    last_inbound_at: datetime | None,
    now: datetime,
    has_template: bool,
    sms_available: bool,
) -> RouteChoice:
    """Pick free text, the approved template, or SMS for one outbound message."""
    if channel is not Channel.WHATSAPP or window_open(last_inbound_at, now):
        return RouteChoice(SendRoute.TEXT, channel)
    if has_template:
        return RouteChoice(SendRoute.TEMPLATE, Channel.WHATSAPP)
    if sms_available:
        return RouteChoice(SendRoute.SMS_FALLBACK, Channel.SMS)
    return RouteChoice(None, Channel.WHATSAPP)
