"""Count the SMS segments a body costs, to budget sends and pace them per segment.

GSM-7 fits 160 septets in one SMS and 153 per part once split (the rest carries the
concatenation header); the extension table (``€ [ ] { } ^ ~ | \\`` and form feed) costs two
septets each. One character outside GSM-7 switches the whole message to UCS-2: 70 UTF-16 code
units alone, 67 per part, an emoji being two units. Spanish ``á í ó ú`` are outside GSM-7
(``ñ é`` are in it), Arabic always is. Parts are packed without splitting an escape pair or a
surrogate pair, as handsets reassemble them; Twilio's own encoder may still differ by one part
(smart encoding), so this is an estimate for budgeting, not billing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class Segments:
    """``units`` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Encoding
    units: int
    segments: int


def is_gsm7(body: str) -> bool:
    """Return True when every character of ``body`` has a GSM-7 encoding."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body)


def count_segments(body: str) -> Segments:
    """Return the encoding, length in units and number of SMS parts of ``body`` (0 if empty)."""
    if is_gsm7(body):
        widths = [2 if c in GSM7_EXTENSION else 1 for c in body]
        return Segments(Encoding.GSM7, sum(widths), _pack(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(c) > 0xFFFF else 1 for c in body]
    return Segments(Encoding.UCS2, sum(widths), _pack(widths, UCS2_SINGLE, UCS2_PART))


def _pack(widths: list[int], single: int, part: int) -> int:
    """Count parts, never splitting a two-unit character across two of them."""
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > part:
            parts, used = parts + 1, 0
        used += width
    return parts
