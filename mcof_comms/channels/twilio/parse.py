"""Turn Twilio's form posts into plain values, or say exactly what is wrong with them."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import phonenumbers

from mcof_comms.channels.inbound import Address, InboundMessage, Media, StatusUpdate
from mcof_comms.models.contact import Channel

MAX_MEDIA = 10


class MalformedRequest(ValueError):
    """A webhook we cannot accept; the message is the reason given back in the 400."""


@functools.lru_cache(maxsize=20_000)
def parse_address(raw: str, *, default_region: str | None = None) -> Address:
    """Normalise a Twilio ``From``: SMS and WhatsApp forms of one number share its E.164.

    Cached: the same people write again and again, and parsing a number is the costliest step
    of reading a webhook. A rejected address raises every time (exceptions are not cached).
    """
    value = raw.strip()
    if not value:
        raise MalformedRequest("From is empty")
    channel = Channel.SMS
    if value.lower().startswith("whatsapp:"):
        channel = Channel.WHATSAPP
        value = value.split(":", 1)[1].strip()
        if not value.startswith("+") and not value.isdigit():
            # a business-scoped user id (BSUID) without a phone number: keep it opaque
            return Address(channel, f"whatsapp:{value}", None)
        if value.isdigit():
            value = "+" + value
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise MalformedRequest("From is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise MalformedRequest("From is not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    address = e164 if channel is Channel.SMS else f"whatsapp:{e164}"
    return Address(channel, address, e164, region if region and region != "ZZ" else None)


def _float(form: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise MalformedRequest(f"{name} is not a number") from exc
    if not math.isfinite(value) or abs(value) > limit:
        raise MalformedRequest(f"{name} is out of range")
    return value


def parse_inbound(form: Mapping[str, str], *, default_region: str | None = None) -> InboundMessage:
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise MalformedRequest("MessageSid is missing")
    if len(sid) > 64:
        raise MalformedRequest("MessageSid is too long")
    raw_from = form.get("From")
    if not raw_from:
        raise MalformedRequest("From is missing")
    sender = parse_address(raw_from, default_region=default_region)
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise MalformedRequest("NumMedia is not a number") from exc
    if not 0 <= num_media <= MAX_MEDIA:
        raise MalformedRequest("NumMedia is out of range")
    media = []
    for index in range(num_media):
        url = form.get(f"MediaUrl{index}")
        if not url:
            raise MalformedRequest(f"MediaUrl{index} is missing")
        media.append(Media(url, form.get(f"MediaContentType{index}") or "application/octet-stream"))
    body = form.get("Body") or ""
    if len(body) > 5000:
        raise MalformedRequest("Body is too long")
    return InboundMessage(
        external_id=sid,
        sender=sender,
        to=(form.get("To") or "").strip() or None,
        body=body,
        media=tuple(media),
        profile_name=(form.get("ProfileName") or "").strip()[:255] or None,
        latitude=_float(form, "Latitude", 90),
        longitude=_float(form, "Longitude", 180),
        messaging_service_sid=form.get("MessagingServiceSid") or None,
        opt_out_type=(form.get("OptOutType") or "").strip().upper() or None,
    )


def parse_status(form: Mapping[str, str], message_id: str | None) -> StatusUpdate:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise MalformedRequest("MessageSid is missing")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not status:
        raise MalformedRequest("MessageStatus is missing")
    code: int | None = None
    if form.get("ErrorCode"):
        try:
            code = int(form["ErrorCode"])
        except ValueError as exc:
            raise MalformedRequest("ErrorCode is not a number") from exc
    our_id: int | None = None
    if message_id:
        if not message_id.isdigit():
            raise MalformedRequest("message_id is not a number")
        our_id = int(message_id)
    event_type = form.get("EventType")
    extra = {"event_type": event_type} if event_type else {}
    return StatusUpdate(sid, status, our_id, code, extra)
