"""Turn Twilio's form posts into plain values, or say exactly what is wrong with them."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping

import phonenumbers

from mcof_comms.channels.inbound import Address, InboundMessage, Media, StatusUpdate
from mcof_comms.inputs import clean_text, is_digits, to_int
from mcof_comms.models.contact import Channel

MAX_MEDIA = 10
MAX_BODY = 5000
#: message.to_address, from_address, messaging_service_sid, external_id, contact_channel.address
MAX_ADDRESS = 64

#: An alphanumeric sender id: up to 11 letters, digits, spaces and a few signs, one letter at
#: least ("MTN-INFO", "UNICEF"). Twilio passes it as From unchanged.
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 &+\-_.]{1,11}")
#: A short code: 3 to 8 digits, no country code ("72345").
_SHORT_CODE = re.compile(r"[0-9]{3,8}")


class MalformedRequest(ValueError):
    """A webhook we cannot accept; the message is the reason given back in the 400."""


@functools.lru_cache(maxsize=20_000)
def parse_address(raw: str, *, default_region: str | None = None) -> Address:
    """Normalise a Twilio ``From``: SMS and WhatsApp forms of one number share its E.164.

    An alphanumeric sender or a short code is kept as it is, with no phone number: they send
    (carrier and service messages) but cannot be answered.

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
        if not value.startswith("+") and not is_digits(value):
            # a business-scoped user id (BSUID) without a phone number: keep it opaque
            return Address(channel, f"whatsapp:{value}", None)
        if is_digits(value):
            value = "+" + value
    elif not value.startswith("+") and not is_digits(value):
        if _ALPHANUMERIC_SENDER.fullmatch(value) and any(c.isalpha() for c in value):
            return Address(channel, value, None)
        raise MalformedRequest("From is not a phone number")
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else default_region)
        possible = phonenumbers.is_possible_number(number)
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        if channel is Channel.SMS and _SHORT_CODE.fullmatch(value):
            return Address(channel, value, None)
        raise MalformedRequest("From is not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    address = e164 if channel is Channel.SMS else f"whatsapp:{e164}"
    return Address(channel, address, e164, region if region and region != "ZZ" else None)


def _float(value: str, limit: float) -> float | None:
    """A coordinate, or None when it is absent or not one (NaN, out of range, words)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and abs(number) <= limit else None


class _Form:
    """The posted values, cleaned for storage, and the problems found reading them."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.values = {str(k): clean_text(str(v)) for k, v in form.items()}
        self.review: list[str] = []

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def short(self, name: str, limit: int = MAX_ADDRESS) -> str | None:
        value = self.get(name)
        if len(value) > limit:
            self.review.append(f"{name.lower()}_too_long")
            value = value[:limit]
        return value or None

    def coordinate(self, name: str, limit: float) -> float | None:
        raw = self.get(name)
        if not raw:
            return None
        value = _float(raw, limit)
        if value is None:
            self.review.append(f"{name.lower()}_invalid")
        return value


def _stand_in_sid(values: Mapping[str, str]) -> str:
    """A MessageSid for a post without a usable one: the same post gives the same id, so a
    retried delivery is still stored once."""
    digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
    return f"nosid-{digest[:40]}"


def _sender(form: _Form, external_id: str, default_region: str | None) -> Address:
    raw = form.get("From")
    if not raw:
        form.review.append("from_missing")
        return Address(Channel.SMS, f"unknown:{external_id}"[:MAX_ADDRESS], None)
    if len(raw) > MAX_ADDRESS:
        form.review.append("from_too_long")
        return Address(Channel.SMS, raw[:MAX_ADDRESS], None)
    try:
        return parse_address(raw, default_region=default_region)
    except MalformedRequest:
        form.review.append("from_not_a_phone_number")
        is_whatsapp = raw.lower().startswith("whatsapp:")
        return Address(Channel.WHATSAPP if is_whatsapp else Channel.SMS, raw, None)


def _media(form: _Form) -> tuple[Media, ...]:
    count = to_int(form.get("NumMedia") or "0", maximum=MAX_MEDIA)
    declared = count is not None
    if count is None:
        form.review.append("num_media_invalid")
        count = MAX_MEDIA  # keep whichever media URLs did arrive
    media = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}")
        if not url:
            if declared:
                form.review.append("media_url_missing")
            continue
        content_type = form.get(f"MediaContentType{index}")[:255] or "application/octet-stream"
        media.append(Media(url, content_type))
    return tuple(media)


def parse_inbound(form: Mapping[str, str], *, default_region: str | None = None) -> InboundMessage:
    """Read a signed inbound post. What cannot be taken as it is is kept as well as it can be
    and named in ``review``: the post came from Twilio, which does not retry a 4xx, so refusing
    it would lose the message. Text is cleaned of what PostgreSQL cannot store."""
    values = _Form(form)
    sid = values.get("MessageSid") or values.get("SmsMessageSid")
    if not sid:
        values.review.append("message_sid_missing")
        sid = _stand_in_sid(values.values)
    elif len(sid) > MAX_ADDRESS:
        values.review.append("message_sid_too_long")
        sid = _stand_in_sid(values.values)
    sender = _sender(values, sid, default_region)
    media = _media(values)
    body = values.values.get("Body", "")
    if len(body) > MAX_BODY:
        values.review.append("body_too_long")
        body = body[:MAX_BODY]
    return InboundMessage(
        external_id=sid,
        sender=sender,
        to=values.short("To"),
        body=body,
        media=media,
        profile_name=values.get("ProfileName")[:255] or None,
        latitude=values.coordinate("Latitude", 90),
        longitude=values.coordinate("Longitude", 180),
        messaging_service_sid=values.short("MessagingServiceSid"),
        opt_out_type=values.get("OptOutType").upper()[:16] or None,
        review=tuple(dict.fromkeys(values.review)),
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
        code = to_int(form["ErrorCode"].strip())
        if code is None:
            raise MalformedRequest("ErrorCode is not a number")
    our_id: int | None = None
    if message_id:
        our_id = to_int(message_id)
        if our_id is None:
            raise MalformedRequest("message_id is not a number")
    event_type = clean_text(form.get("EventType") or "")[:32]
    extra = {"event_type": event_type} if event_type else {}
    return StatusUpdate(clean_text(sid)[:MAX_ADDRESS], clean_text(status)[:32], our_id, code, extra)
