"""Logging set-up: our loggers carry ids only, and a filter scrubs any number that slips in.

Phone numbers reach logs by paths we do not write ourselves: a database error's DETAIL line
(``Key (address)=(+243...) already exists``) in a traceback, a library's message. The filter
on the root handlers (RQ's worker logs through them too) rewrites such numbers before any
handler formats the record.
"""

from __future__ import annotations

import logging
import re

#: E.164 numbers, with or without a channel prefix, spaces or dashes inside; also URL-encoded.
_NUMBER = re.compile(
    r"(?:whatsapp:)?\+\d(?:[\d \-().]{5,20})\d|(?:whatsapp%3A)?%2B\d{6,15}", re.IGNORECASE
)
REDACTED = "[number]"


def redact(text: str) -> str:
    return _NUMBER.sub(REDACTED, text)


class RedactNumbers(logging.Filter):
    """Replace phone numbers in a record's message, traceback and stack before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: never raise into the caller from a filter
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging() -> None:
    """A root handler if there is none, the redacting filter on every root handler, and quiet
    libraries that log URLs with phone numbers in them."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for handler in root.handlers:
        if not any(isinstance(f, RedactNumbers) for f in handler.filters):
            handler.addFilter(RedactNumbers())
    for noisy in ("urllib3", "twilio.http_client", "twilio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
