"""The WhatsApp 24-hour window decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mcof_comms.models import Channel
from mcof_comms.models.message import SendRoute
from mcof_comms.outbound.window import choose_route

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def route(channel, hours_ago, *, template=False, sms=False):
    last = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return choose_route(
        channel, last_inbound_at=last, now=NOW, has_template=template, sms_available=sms
    )


def test_sms_is_always_free_text():
    assert route(Channel.SMS, None).route is SendRoute.TEXT


def test_whatsapp_inside_the_window_is_free_text():
    assert route(Channel.WHATSAPP, 23).route is SendRoute.TEXT


def test_whatsapp_near_the_end_of_the_window_is_treated_as_closed():
    assert route(Channel.WHATSAPP, 23.95, template=True).route is SendRoute.TEMPLATE


def test_outside_the_window_template_then_sms_then_nothing():
    assert route(Channel.WHATSAPP, 30, template=True, sms=True).route is SendRoute.TEMPLATE
    fallback = route(Channel.WHATSAPP, 30, sms=True)
    assert fallback.route is SendRoute.SMS_FALLBACK
    assert fallback.channel is Channel.SMS
    assert route(Channel.WHATSAPP, None).route is None
